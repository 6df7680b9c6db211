// The training dashboard (see dashboard_view.h).
#include "dashboard_view.h"

#include <QCheckBox>
#include <QFile>
#include <QFileDialog>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineSeries>
#include <QPushButton>
#include <QSlider>
#include <QTextStream>
#include <QVBoxLayout>
#include <map>

#include "chart_export.h"

namespace minimind {

namespace {

// The slider is an integer 0..99; its value / 100 is the EMA factor (99 would be 0.99, heavy smoothing).
constexpr int kSmoothingSteps = 100;

}  // namespace

DashboardView::DashboardView(QWidget* parent) : QWidget(parent) {
  loss_ = new MetricChart(tr("Loss"));
  loss_->add_series(kTrain);
  loss_->add_series(kValidation);
  loss_->series(kValidation)->setPointsVisible(true);  // validations are sparse: a lone one must show
  learning_rate_ = new MetricChart(tr("Learning rate"));
  learning_rate_->add_series(kPlanned, MetricChart::Style::Planned);
  learning_rate_->add_series(kActual);
  grad_norm_ = new MetricChart(tr("Gradient norm"));
  grad_norm_->add_series(kValue);
  aux_loss_ = new MetricChart(tr("Aux loss"));
  aux_loss_->add_series(kValue);
  tokens_per_s_ = new MetricChart(tr("Tokens/s"));
  tokens_per_s_->add_series(kValue);

  smoothing_ = new QSlider(Qt::Horizontal);
  smoothing_->setRange(0, kSmoothingSteps - 1);
  smoothing_->setToolTip(tr("Exponential moving average factor (0 = raw values)"));
  auto* smoothing_value = new QLabel("0.00");
  connect(smoothing_, &QSlider::valueChanged, this, [this, smoothing_value](int v) {
    const double factor = double(v) / kSmoothingSteps;
    smoothing_value->setText(QString::number(factor, 'f', 2));
    for (MetricChart* c : charts()) c->set_smoothing(factor);
  });
  log_scale_ = new QCheckBox(tr("Log scale"));
  connect(log_scale_, &QCheckBox::toggled, this, [this](bool on) {
    for (MetricChart* c : charts()) c->set_log_scale(on);
  });
  auto* load = new QPushButton(tr("Compare with run..."));
  connect(load, &QPushButton::clicked, this, &DashboardView::choose_overlay);
  auto* clear = new QPushButton(tr("Clear comparison"));
  connect(clear, &QPushButton::clicked, this, &DashboardView::clear_overlay);
  overlay_status_ = new QLabel;

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(tr("Smoothing")));
  controls->addWidget(smoothing_, 1);
  controls->addWidget(smoothing_value);
  controls->addWidget(log_scale_);
  controls->addWidget(load);
  controls->addWidget(clear);
  controls->addWidget(overlay_status_, 1);

  // Loss, the chart watched most, gets the whole top row.
  auto* grid = new QGridLayout;
  grid->addWidget(with_export_buttons(loss_, "loss"), 0, 0, 1, 2);
  grid->addWidget(with_export_buttons(learning_rate_, "learning_rate"), 1, 0);
  grid->addWidget(with_export_buttons(grad_norm_, "grad_norm"), 1, 1);
  grid->addWidget(with_export_buttons(aux_loss_, "aux_loss"), 2, 0);
  grid->addWidget(with_export_buttons(tokens_per_s_, "tokens_per_s"), 2, 1);

  auto* layout = new QVBoxLayout(this);
  layout->addLayout(controls);
  layout->addLayout(grid, 1);
}

void DashboardView::clear_run() {
  for (MetricChart* chart : charts()) chart->clear_points(MetricChart::Style::Normal);
}

void DashboardView::add(const StepMetrics& m) {
  const double step = double(m.step);
  loss_->append(kTrain, step, m.loss);
  learning_rate_->append(kActual, step, m.learning_rate);
  grad_norm_->append(kValue, step, m.grad_norm);
  aux_loss_->append(kValue, step, m.aux_loss);
  tokens_per_s_->append(kValue, step, m.tokens_per_s);
}

void DashboardView::add(const ValidationResult& r) {
  loss_->append(kValidation, double(r.step), r.loss);
}

void DashboardView::set_planned_learning_rate(const std::vector<double>& schedule) {
  std::vector<QPointF> points;
  points.reserve(schedule.size());
  for (size_t i = 0; i < schedule.size(); ++i) points.emplace_back(double(i), schedule[i]);
  learning_rate_->set_points(kPlanned, std::move(points), MetricChart::Style::Planned);
}

void DashboardView::flush() {
  for (MetricChart* c : charts()) c->flush();
}

void DashboardView::clear_overlay() {
  for (MetricChart* c : charts()) c->remove_series_with_style(MetricChart::Style::Overlay);
  overlay_status_->clear();
}

QString DashboardView::load_overlay(const QString& path) {
  auto fail = [this](const QString& why) {
    overlay_status_->setText(why);
    return why;
  };
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly | QIODevice::Text)) return fail(tr("cannot open %1").arg(path));
  QTextStream in(&file);
  // Columns are looked up by name, so a writer that adds columns later does not break old readers.
  const QStringList header = in.readLine().trimmed().split(',');
  auto column = [&](const char* name) { return int(header.indexOf(QString::fromLatin1(name))); };
  const int type = column("type"), step = column("step"), loss = column("loss");
  if (type < 0 || step < 0 || loss < 0)
    return fail(tr("%1 is not a metrics.csv (no type,step,loss columns)").arg(path));

  // chart, series name -> points; the CSV's column name picks the chart.
  struct Target {
    MetricChart* chart;
    QString series;
    int column;
  };
  const std::vector<Target> step_targets = {
      {loss_, kTrain, loss},
      {learning_rate_, kActual, column("learning_rate")},
      {grad_norm_, kValue, column("grad_norm")},
      {aux_loss_, kValue, column("aux_loss")},
      {tokens_per_s_, kValue, column("tokens_per_s")},
  };
  std::vector<std::vector<QPointF>> step_points(step_targets.size());
  std::vector<QPointF> validation_points;
  int rows = 0;
  while (!in.atEnd()) {
    const QStringList fields = in.readLine().split(',');
    if (fields.size() < header.size()) continue;  // a truncated last line of a run that was killed
    bool ok = false;
    const double s = fields[step].toDouble(&ok);
    if (!ok) continue;
    // An empty or unparsable cell (e.g. "nan") is skipped, not drawn as 0.
    auto value = [&](int col, double* out) { return col >= 0 && (*out = fields[col].toDouble(&ok), ok); };
    double v = 0;
    if (fields[type] == QLatin1String("step_metrics")) {
      for (size_t i = 0; i < step_targets.size(); ++i)
        if (value(step_targets[i].column, &v)) step_points[i].emplace_back(s, v);
      ++rows;
    } else if (fields[type] == QLatin1String("validation")) {
      if (value(loss, &v)) validation_points.emplace_back(s, v);
      ++rows;
    }
  }
  if (rows == 0) return fail(tr("%1 holds no metrics").arg(path));

  clear_overlay();
  for (size_t i = 0; i < step_targets.size(); ++i) {
    if (step_points[i].empty()) continue;
    step_targets[i].chart->set_points(step_targets[i].series + kPreviousSuffix, std::move(step_points[i]),
                                      MetricChart::Style::Overlay);
  }
  if (!validation_points.empty())
    loss_->set_points(kValidation + kPreviousSuffix, std::move(validation_points),
                      MetricChart::Style::Overlay);
  overlay_status_->setText(tr("comparing with %1").arg(path));
  return {};
}

void DashboardView::choose_overlay() {
  const QString path =
      QFileDialog::getOpenFileName(this, tr("Previous run's metrics"), {}, tr("Metrics CSV (*.csv)"));
  if (!path.isEmpty()) load_overlay(path);
}

}  // namespace minimind
