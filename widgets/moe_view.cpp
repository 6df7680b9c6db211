// The MoE view (see moe_view.h). add() only updates the state (the last load, the bucketed history, the
// chart buffers); refresh() turns the state into bars, heatmap and label, on a timer or on flush().
#include "moe_view.h"

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QFile>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPixmap>
#include <QSpinBox>
#include <QTextStream>
#include <QVBoxLayout>
#include <QValueAxis>
#include <algorithm>
#include <cmath>

#include "chart_export.h"
#include "heatmap_widget.h"
#include "metric_chart.h"

namespace minimind {

namespace {

// 10 Hz, as MetricChart: live enough, and a 400-column heatmap rebuilt ten times a second costs nothing.
constexpr int kRefreshMs = 100;

// Colours and bars run up to twice the balanced share 1/E, so that balanced routing sits mid-scale and an
// overloaded expert stands out (shares above are drawn with the top colour; the hover shows the value).
double display_ceiling(int experts) {
  return std::min(1.0, 2.0 / std::max(1, experts));
}

QString step_range(int64_t first, int64_t last) {
  return first == last ? QString::number(first) : QStringLiteral("%1-%2").arg(first).arg(last);
}

}  // namespace

double MoeView::imbalance(const std::vector<double>& fractions) {
  if (fractions.empty()) return 0;
  double sum = 0, max = 0;
  for (double f : fractions) {
    sum += f;
    max = std::max(max, f);
  }
  const double mean = sum / double(fractions.size());
  return mean > 0 ? max / mean : 0;
}

MoeView::MoeView(QWidget* parent) : QWidget(parent) {
  note_label_ = new QLabel(tr("This model is dense (use_moe is off): no experts to show"));
  note_label_->setAlignment(Qt::AlignCenter);
  note_label_->setWordWrap(true);
  note_label_->hide();
  error_label_ = new QLabel;
  error_label_->setWordWrap(true);
  error_label_->setStyleSheet("color: #b00020;");
  error_label_->hide();

  layer_box_ = new QSpinBox;
  layer_box_->setRange(0, 0);
  layer_box_->setToolTip(tr("Layer whose experts the bars and the heatmap show (from 0)"));
  connect(layer_box_, &QSpinBox::valueChanged, this, [this] {
    dirty_ = true;
    refresh();  // a person is choosing: answer at once
  });
  status_label_ = new QLabel(tr("No routing data yet: it arrives with every step of an MoE training run."));
  imbalance_label_ = new QLabel;
  imbalance_label_->setWordWrap(true);
  imbalance_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  imbalance_label_->setToolTip(
      tr("max / mean share of the experts of a layer: 1 when every expert gets the same "
         "share, the expert count when one expert gets every token"));

  // Bars: the chosen layer's shares at the last step.
  auto* bar_chart = new QChart;
  bar_chart->setTitle(tr("Share of routed tokens per expert, last step"));
  bar_chart->legend()->hide();
  bar_set_ = new QBarSet(tr("share"));
  auto* bar_series = new QBarSeries;
  bar_series->append(bar_set_);
  bar_chart->addSeries(bar_series);
  bar_experts_axis_ = new QBarCategoryAxis;
  bar_experts_axis_->setTitleText(tr("expert"));
  bar_share_axis_ = new QValueAxis;
  bar_share_axis_->setTitleText(tr("share of routed tokens"));
  bar_share_axis_->setLabelFormat("%.2f");
  bar_share_axis_->setRange(0, 1);
  bar_chart->addAxis(bar_experts_axis_, Qt::AlignBottom);
  bar_chart->addAxis(bar_share_axis_, Qt::AlignLeft);
  bar_series->attachAxis(bar_experts_axis_);
  bar_series->attachAxis(bar_share_axis_);
  bar_chart_ = new QChartView(bar_chart);
  bar_chart_->setRenderHint(QPainter::Antialiasing);

  load_heatmap_ = new HeatmapWidget;
  load_heatmap_->set_causal_mask(false);
  load_heatmap_->set_square_cells(false);
  load_heatmap_->set_axis_nouns(tr("expert"), tr("steps"));
  load_heatmap_->setToolTip(
      tr("Share of routed tokens per expert (rows) over steps (columns); older steps are "
         "averaged, the last column is the last step"));
  hover_label_ = new QLabel;
  hover_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  connect(load_heatmap_, &HeatmapWidget::hovered, hover_label_, &QLabel::setText);
  auto* heatmap_panel = new QWidget;
  auto* heatmap_layout = new QVBoxLayout(heatmap_panel);
  heatmap_layout->setContentsMargins(0, 0, 0, 0);
  heatmap_layout->addWidget(
      new QLabel(tr("Expert load over steps, chosen layer (colour up to twice the "
                    "balanced share)")));
  heatmap_layout->addWidget(with_export_buttons(load_heatmap_, "moe_load_history"), 1);
  heatmap_layout->addWidget(hover_label_);

  aux_loss_chart_ = new MetricChart(tr("Aux loss (load balancing)"));
  aux_loss_chart_->add_series(kAuxLoss);
  imbalance_chart_ = new MetricChart(tr("Imbalance max/mean load per layer"));

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(tr("Layer")));
  controls->addWidget(layer_box_);
  controls->addWidget(status_label_, 1);

  auto* grid = new QGridLayout;
  grid->addWidget(with_export_buttons(
                      bar_chart_, "moe_expert_share",
                      [this](const QString& path) { return bar_chart_->grab().save(path, "PNG"); },
                      [this](const QString& path) { return export_bars_csv(path); }),
                  0, 0);
  grid->addWidget(heatmap_panel, 0, 1);
  grid->addWidget(with_export_buttons(aux_loss_chart_, "moe_aux_loss"), 1, 0);
  grid->addWidget(with_export_buttons(imbalance_chart_, "moe_imbalance"), 1, 1);

  charts_ = new QWidget;
  auto* charts_layout = new QVBoxLayout(charts_);
  charts_layout->setContentsMargins(0, 0, 0, 0);
  charts_layout->addLayout(controls);
  charts_layout->addWidget(imbalance_label_);
  charts_layout->addLayout(grid, 1);

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(error_label_);
  layout->addWidget(note_label_, 1);
  layout->addWidget(charts_, 1);

  connect(&timer_, &QTimer::timeout, this, [this] {
    if (dirty_) refresh();
  });
  timer_.start(kRefreshMs);
}

bool MoeView::charts_shown() const {
  return !charts_->isHidden();
}

QString MoeView::note_text() const {
  return note_label_->isHidden() ? QString() : note_label_->text();
}

QString MoeView::imbalance_text() const {
  return imbalance_label_->text();
}

QString MoeView::error_text() const {
  return error_label_->isHidden() ? QString() : error_label_->text();
}

void MoeView::show_error(const QString& text) {
  error_label_->setText(text);
  error_label_->setVisible(!text.isEmpty());
}

void MoeView::set_config(const ModelConfig& config) {
  dense_ = !config.use_moe;
  note_label_->setVisible(dense_);
  charts_->setVisible(!dense_);
  if (dense_) {
    show_error({});
    return;
  }
  if (config.num_hidden_layers < 1 || config.num_hidden_layers > kMaxHiddenLayers ||
      config.n_routed_experts < 1 || config.n_routed_experts > kMaxExperts) {
    show_error(
        tr("The MoE view needs 1 to %1 layers and 1 to %2 routed experts; the config has %3 layers and %4 "
           "experts.")
            .arg(kMaxHiddenLayers)
            .arg(kMaxExperts)
            .arg(config.num_hidden_layers)
            .arg(config.n_routed_experts));
    return;
  }
  show_error({});
  const int layers = static_cast<int>(config.num_hidden_layers);
  const int experts = static_cast<int>(config.n_routed_experts);
  if (layers != num_layers_ || experts != num_experts_) reset_shape(layers, experts);
}

std::optional<QString> MoeView::problem(const MoeLoad& load) const {
  const auto& rows = load.expert_fraction;
  if (rows.empty()) return tr("it has no layers");
  if (rows.size() > size_t(kMaxHiddenLayers))
    return tr("it has %1 layers, at most %2 are supported").arg(qint64(rows.size())).arg(kMaxHiddenLayers);
  const size_t experts = rows[0].size();
  if (experts == 0 || experts > size_t(kMaxExperts))
    return tr("layer 0 has %1 experts; 1 to %2 are supported").arg(qint64(experts)).arg(kMaxExperts);
  for (size_t layer = 0; layer < rows.size(); ++layer) {
    if (rows[layer].size() != experts)
      return tr("layer %1 has %2 experts but layer 0 has %3")
          .arg(qint64(layer))
          .arg(qint64(rows[layer].size()))
          .arg(qint64(experts));
    for (size_t e = 0; e < experts; ++e) {
      const double share = rows[layer][e];
      if (!std::isfinite(share) || share < 0 || share > 1)
        return tr("layer %1, expert %2: share %3 is not a number in [0, 1]")
            .arg(qint64(layer))
            .arg(qint64(e))
            .arg(share);
    }
  }
  return std::nullopt;
}

void MoeView::reset_shape(int layers, int experts) {
  num_layers_ = layers;
  num_experts_ = experts;
  last_load_.reset();
  last_imbalance_.clear();
  history_.clear();
  steps_per_bucket_ = 1;
  for (const QString& name : imbalance_chart_->series_names()) imbalance_chart_->remove_series(name);
  if (layers <= kMaxImbalanceSeries) {
    for (int layer = 0; layer < layers; ++layer) imbalance_chart_->add_series(layer_series(layer));
  } else {
    imbalance_chart_->add_series(kWorstLayer);
    imbalance_chart_->add_series(kMeanOverLayers);
  }
  layer_box_->setRange(0, std::max(0, layers - 1));
  dirty_ = true;
}

void MoeView::clear() {
  reset_shape(num_layers_, num_experts_);
  aux_loss_chart_->remove_series(kAuxLoss);
  aux_loss_chart_->add_series(kAuxLoss);
  show_error({});
  refresh();
}

void MoeView::add(const MoeLoad& load) {
  if (dense_) return;  // a dense model routes nothing; its view shows the note only
  if (auto why = problem(load)) {
    show_error(tr("The expert loads of step %1 were not shown: %2.").arg(load.step).arg(*why));
    return;
  }
  show_error({});
  const int layers = static_cast<int>(load.expert_fraction.size());
  const int experts = static_cast<int>(load.expert_fraction[0].size());
  // The loads are the truth: a shape other than the config's, or a step that went back (a resumed or new
  // run), starts the history afresh rather than mixing two runs in one heatmap.
  if (layers != num_layers_ || experts != num_experts_ || (last_load_ && load.step <= last_load_->step))
    reset_shape(layers, experts);
  if (last_load_) fold_into_history(*last_load_);
  last_load_ = load;

  last_imbalance_.resize(size_t(layers));
  double worst = 0, total = 0;
  for (int layer = 0; layer < layers; ++layer) {
    last_imbalance_[layer] = imbalance(load.expert_fraction[layer]);
    worst = std::max(worst, last_imbalance_[layer]);
    total += last_imbalance_[layer];
  }
  const double step = double(load.step);
  if (layers <= kMaxImbalanceSeries) {
    for (int layer = 0; layer < layers; ++layer)
      imbalance_chart_->append(layer_series(layer), step, last_imbalance_[layer]);
  } else {
    imbalance_chart_->append(kWorstLayer, step, worst);
    imbalance_chart_->append(kMeanOverLayers, step, total / layers);
  }
  dirty_ = true;
}

void MoeView::add_aux_loss(qint64 step, double aux_loss) {
  aux_loss_chart_->append(kAuxLoss, double(step), aux_loss);
}

void MoeView::add(const StepMetrics& metrics) {
  add_aux_loss(metrics.step, metrics.aux_loss);
}

void MoeView::fold_into_history(const MoeLoad& load) {
  if (history_.empty() || history_.back().count >= steps_per_bucket_) {
    Bucket bucket;
    bucket.first_step = load.step;
    bucket.sum.assign(size_t(num_layers_) * num_experts_, 0.0);
    history_.push_back(std::move(bucket));
  }
  Bucket& bucket = history_.back();
  for (int layer = 0; layer < num_layers_; ++layer)
    for (int e = 0; e < num_experts_; ++e)
      bucket.sum[size_t(layer) * num_experts_ + e] += load.expert_fraction[layer][e];
  bucket.last_step = load.step;
  ++bucket.count;
  // One column stays for the last step; when the history outgrows the rest, neighbours merge in pairs.
  if (history_.size() <= size_t(kMaxHeatmapColumns - 1)) return;
  std::vector<Bucket> merged;
  merged.reserve(history_.size() / 2 + 1);
  for (size_t i = 0; i < history_.size(); i += 2) {
    Bucket b = std::move(history_[i]);
    if (i + 1 < history_.size()) {
      const Bucket& next = history_[i + 1];
      for (size_t k = 0; k < b.sum.size(); ++k) b.sum[k] += next.sum[k];
      b.count += next.count;
      b.last_step = next.last_step;
    }
    merged.push_back(std::move(b));
  }
  history_ = std::move(merged);
  steps_per_bucket_ *= 2;
}

void MoeView::flush() {
  refresh();
  aux_loss_chart_->flush();
  imbalance_chart_->flush();
}

void MoeView::refresh() {
  dirty_ = false;
  refresh_bars();
  refresh_heatmap();
  refresh_imbalance_label();
  if (last_load_)
    status_label_->setText(tr("Step %1, %2 layers x %3 routed experts; balanced share 1/%3 = %4")
                               .arg(last_load_->step)
                               .arg(num_layers_)
                               .arg(num_experts_)
                               .arg(1.0 / num_experts_, 0, 'g', 4));
}

void MoeView::refresh_bars() {
  if (bar_set_->count() > 0) bar_set_->remove(0, bar_set_->count());
  if (!last_load_) {
    bar_experts_axis_->clear();
    return;
  }
  const int layer = layer_box_->value();
  const std::vector<double>& shares = last_load_->expert_fraction[layer];
  if (bar_experts_axis_->count() != num_experts_) {
    QStringList experts;
    for (int e = 0; e < num_experts_; ++e) experts << QString::number(e);
    bar_experts_axis_->clear();
    bar_experts_axis_->append(experts);
  }
  QList<qreal> values(shares.begin(), shares.end());
  bar_set_->append(values);
  const double highest = *std::max_element(shares.begin(), shares.end());
  bar_share_axis_->setRange(0, std::min(1.0, std::max(display_ceiling(num_experts_), highest * 1.1)));
  bar_chart_->chart()->setTitle(
      tr("Share of routed tokens per expert, layer %1, step %2").arg(layer).arg(last_load_->step));
}

void MoeView::refresh_heatmap() {
  if (!last_load_) {
    load_heatmap_->clear();
    return;
  }
  const int layer = layer_box_->value();
  const int cols = static_cast<int>(history_.size()) + 1;
  std::vector<float> values(size_t(num_experts_) * cols);
  QStringList expert_labels, step_labels;
  for (int e = 0; e < num_experts_; ++e) expert_labels << QString::number(e);
  for (int c = 0; c < cols - 1; ++c) {
    const Bucket& b = history_[c];
    step_labels << step_range(b.first_step, b.last_step);
    for (int e = 0; e < num_experts_; ++e)
      values[size_t(e) * cols + c] =
          static_cast<float>(b.sum[size_t(layer) * num_experts_ + e] / double(b.count));
  }
  step_labels << QString::number(last_load_->step);
  for (int e = 0; e < num_experts_; ++e)
    values[size_t(e) * cols + cols - 1] = static_cast<float>(last_load_->expert_fraction[layer][e]);
  load_heatmap_->set_value_range(0, display_ceiling(num_experts_));
  load_heatmap_->set_matrix(num_experts_, cols, std::move(values), expert_labels, step_labels);
}

void MoeView::refresh_imbalance_label() {
  if (!last_load_) {
    imbalance_label_->clear();
    return;
  }
  QString text = tr("Imbalance max/mean load at step %1 (1 = balanced, %2 = one expert takes every token): ")
                     .arg(last_load_->step)
                     .arg(num_experts_);
  if (num_layers_ <= kMaxImbalanceSeries) {
    QStringList parts;
    for (int layer = 0; layer < num_layers_; ++layer)
      parts << tr("layer %1: %2").arg(layer).arg(last_imbalance_[layer], 0, 'f', 3);
    text += parts.join(", ");
  } else {
    const auto worst = std::max_element(last_imbalance_.begin(), last_imbalance_.end());
    text += tr("layer %1 (chosen): %2, worst layer %3: %4")
                .arg(layer_box_->value())
                .arg(last_imbalance_[layer_box_->value()], 0, 'f', 3)
                .arg(worst - last_imbalance_.begin())
                .arg(*worst, 0, 'f', 3);
  }
  imbalance_label_->setText(text);
}

bool MoeView::export_bars_csv(const QString& path) const {
  QFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) return false;
  QTextStream out(&file);
  out << "step,layer,expert,share\n";
  if (last_load_) {
    for (size_t layer = 0; layer < last_load_->expert_fraction.size(); ++layer)
      for (size_t e = 0; e < last_load_->expert_fraction[layer].size(); ++e)
        out << last_load_->step << ',' << layer << ',' << e << ','
            << QString::number(last_load_->expert_fraction[layer][e], 'g', 17) << '\n';
  }
  out.flush();
  return out.status() == QTextStream::Ok && file.error() == QFileDevice::NoError;
}

}  // namespace minimind
