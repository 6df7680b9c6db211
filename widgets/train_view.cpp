// The Train view's layout, button states and figures.
#include "train_view.h"

#include <QComboBox>
#include <QDateTime>
#include <QFileDialog>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QThread>
#include <QVBoxLayout>
#include <cmath>

#include "chart_export.h"
#include "metric_chart.h"
#include "text/byte_size.h"

namespace minimind {

namespace {

QLabel* figure_label(QWidget* parent) {
  auto* label = new QLabel(QStringLiteral("–"), parent);
  label->setTextInteractionFlags(Qt::TextSelectableByMouse);
  return label;
}

}  // namespace

TrainView::TrainView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);

  auto* device_box = new QGroupBox(tr("Device"), this);
  auto* device_form = new QHBoxLayout(device_box);
  device_ = new QComboBox(device_box);
  device_->setObjectName("device");
  threads_ = new QSpinBox(device_box);
  threads_->setObjectName("threads");
  threads_->setRange(1, std::max(1, QThread::idealThreadCount()));
  threads_->setValue(threads_->maximum());
  threads_->setSuffix(tr(" threads"));
  threads_->setToolTip(tr("CPU threads for the training step (all cores by default)"));
  device_form->addWidget(new QLabel(tr("Train on"), device_box));
  device_form->addWidget(device_);
  device_form->addWidget(threads_);
  device_form->addStretch();
  layout->addWidget(device_box);
  connect(device_, &QComboBox::currentIndexChanged, this, [this] {
    threads_->setEnabled(state_ == State::idle && !gpu_selected());
    emit device_changed(device());
  });
  // Until the devices are listed: the CPU, and a GPU entry that says so.
  DeviceChoice cpu, gpu;
  gpu.spec = {Device::cuda, 0};
  gpu.unavailable = tr("the GPUs have not been listed").toStdString();
  set_devices({cpu, gpu});

  auto* controls = new QHBoxLayout;
  start_ = new QPushButton(tr("Start training"), this);
  start_->setObjectName("start");
  start_->setToolTip(tr("Prepare the data if needed and train with the current configuration (F5)"));
  pause_ = new QPushButton(tr("Pause"), this);
  pause_->setObjectName("pause");
  pause_->setToolTip(tr("Pause after the current micro-step; a checkpoint is written"));
  resume_ = new QPushButton(tr("Resume"), this);
  resume_->setObjectName("resume");
  stop_ = new QPushButton(tr("Stop"), this);
  stop_->setObjectName("stop");
  stop_->setToolTip(tr("Stop after the current micro-step; a checkpoint is written"));
  resume_dir_ = new QPushButton(tr("Resume a run directory..."), this);
  resume_dir_->setObjectName("resume_dir");
  resume_last_ = new QPushButton(this);
  resume_last_->setObjectName("resume_last");
  resume_last_->hide();
  for (QPushButton* b : {start_, pause_, resume_, stop_}) controls->addWidget(b);
  controls->addStretch();
  controls->addWidget(resume_last_);
  controls->addWidget(resume_dir_);
  layout->addLayout(controls);
  start_note_ = new QLabel(this);
  start_note_->setObjectName("start_note");
  start_note_->setWordWrap(true);
  start_note_->setStyleSheet("color: #b03030");
  start_note_->hide();
  layout->addWidget(start_note_);
  connect(start_, &QPushButton::clicked, this, &TrainView::start_requested);
  connect(pause_, &QPushButton::clicked, this, &TrainView::pause_requested);
  connect(resume_, &QPushButton::clicked, this, &TrainView::resume_requested);
  connect(stop_, &QPushButton::clicked, this, &TrainView::stop_requested);
  connect(resume_dir_, &QPushButton::clicked, this, &TrainView::choose_run_to_resume);
  connect(resume_last_, &QPushButton::clicked, this, [this] { emit resume_run_requested(last_run_); });

  run_label_ = new QLabel(tr("No run yet: press Start training."), this);
  run_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(run_label_);
  progress_ = new QProgressBar(this);
  progress_->setRange(0, 1);
  progress_->setValue(0);
  progress_->setFormat(tr("step %v of %m"));
  layout->addWidget(progress_);

  auto* figures = new QGridLayout;
  step_label_ = figure_label(this);
  loss_label_ = figure_label(this);
  speed_label_ = figure_label(this);
  mfu_label_ = figure_label(this);
  memory_label_ = figure_label(this);
  eta_label_ = figure_label(this);
  const std::pair<QString, QLabel*> rows[] = {{tr("Step"), step_label_},       {tr("Loss"), loss_label_},
                                              {tr("Throughput"), speed_label_}, {tr("MFU"), mfu_label_},
                                              {tr("Memory"), memory_label_},    {tr("Time"), eta_label_}};
  int index = 0;
  for (const auto& [name, label] : rows) {
    figures->addWidget(new QLabel("<b>" + name + "</b>", this), index / 3, 2 * (index % 3));
    figures->addWidget(label, index / 3, 2 * (index % 3) + 1);
    ++index;
  }
  layout->addLayout(figures);

  loss_ = new MetricChart(tr("Training loss"), this);
  loss_->setMinimumHeight(220);
  layout->addWidget(with_export_buttons(loss_, "training_loss"), 3);
  log_ = new QPlainTextEdit(this);
  log_->setObjectName("log");
  log_->setReadOnly(true);
  log_->setMaximumBlockCount(5000);  // a long run's log stays cheap; the full record is in metrics.jsonl
  log_->setPlaceholderText(tr("Validations, checkpoints, warnings and skipped steps appear here."));
  layout->addWidget(log_, 2);
  update_buttons();
}

int TrainView::threads() const { return threads_->value(); }
void TrainView::set_threads(int threads) { threads_->setValue(threads); }

namespace {

// "CPU: AMD EPYC 7B13, 62.7 GiB", "GPU 0: NVIDIA H100 80GB HBM3, 79.1 GiB", "GPU (CUDA): <why not>".
QString entry_text(const DeviceChoice& d) {
  const bool gpu = d.spec.kind == Device::cuda;
  if (!d.usable())
    return gpu ? QObject::tr("GPU (CUDA): %1").arg(QString::fromStdString(d.unavailable))
               : QObject::tr("CPU: %1").arg(QString::fromStdString(d.unavailable));
  QString text = gpu ? QObject::tr("GPU %1").arg(d.spec.index) : QObject::tr("CPU");
  QStringList details;
  if (!d.name.empty()) details << QString::fromStdString(d.name);
  if (d.total_bytes > 0) details << QString::fromStdString(format_bytes(d.total_bytes));
  if (!details.isEmpty()) text += ": " + details.join(", ");
  return text;
}

}  // namespace

void TrainView::set_devices(const std::vector<DeviceChoice>& devices) {
  const QString selected = device_->count() > 0 ? device() : QStringLiteral("cpu");
  {
    // One device_changed at most, after the list is complete.
    const QSignalBlocker quiet(device_);
    devices_ = devices;
    device_->clear();
    auto* model = qobject_cast<QStandardItemModel*>(device_->model());
    for (const DeviceChoice& d : devices_) {
      device_->addItem(entry_text(d), QString::fromStdString(d.spec.name()));
      QStandardItem* item = model->item(device_->count() - 1);
      item->setEnabled(d.usable());
      item->setToolTip(d.usable() ? QString() : QString::fromStdString(d.unavailable));
    }
    if (!select_device(selected) && !select_device(QStringLiteral("cpu"))) device_->setCurrentIndex(-1);
  }
  threads_->setEnabled(state_ == State::idle && !gpu_selected());
  if (device() != selected) emit device_changed(device());
}

bool TrainView::select_device(const QString& device) {
  for (size_t i = 0; i < devices_.size(); ++i)
    if (devices_[i].usable() && QString::fromStdString(devices_[i].spec.name()) == device) {
      device_->setCurrentIndex(static_cast<int>(i));
      return true;
    }
  return false;
}

bool TrainView::gpu_selected() const {
  const int index = device_->currentIndex();
  return index >= 0 && static_cast<size_t>(index) < devices_.size() &&
         devices_[static_cast<size_t>(index)].spec.kind == Device::cuda;
}

QString TrainView::device() const {
  const QString name = device_->currentData().toString();
  return name.isEmpty() ? QStringLiteral("cpu") : name;
}

void TrainView::set_start_allowed(bool allowed, const QString& why_not) {
  start_allowed_ = allowed;
  start_note_->setText(allowed ? QString() : why_not);
  start_note_->setVisible(!allowed && !why_not.isEmpty());
  update_buttons();
}

void TrainView::set_state(State state) {
  state_ = state;
  update_buttons();
}

void TrainView::update_buttons() {
  const bool idle = state_ == State::idle;
  start_->setEnabled(idle && start_allowed_);
  resume_dir_->setEnabled(idle);
  resume_last_->setEnabled(idle);
  pause_->setEnabled(state_ == State::running);
  resume_->setEnabled(state_ == State::paused);
  stop_->setEnabled(state_ == State::running || state_ == State::paused || state_ == State::pausing ||
                    state_ == State::preparing);
  device_->setEnabled(idle);
  threads_->setEnabled(idle && !gpu_selected());
  switch (state_) {
    case State::idle: start_->setText(tr("Start training")); break;
    case State::preparing: start_->setText(tr("Preparing data...")); break;
    case State::running: start_->setText(tr("Training...")); break;
    case State::pausing: start_->setText(tr("Pausing...")); break;
    case State::paused: start_->setText(tr("Paused")); break;
    case State::stopping: start_->setText(tr("Stopping...")); break;
  }
}

void TrainView::begin_run(const QString& run_dir, int64_t start_step, int64_t total_steps) {
  start_step_ = start_step;
  total_steps_ = total_steps;
  run_label_->setText(start_step > 0 ? tr("Resumed %1 at step %2").arg(run_dir).arg(start_step)
                                     : tr("Run directory: %1").arg(run_dir));
  // QProgressBar holds ints; steps beyond that are not a realistic run on this engine.
  progress_->setRange(0, static_cast<int>(std::min<int64_t>(total_steps, INT32_MAX)));
  progress_->setValue(static_cast<int>(std::min<int64_t>(start_step, INT32_MAX)));
  for (QLabel* label : {step_label_, loss_label_, speed_label_, mfu_label_, memory_label_, eta_label_})
    label->setText(QStringLiteral("–"));
  loss_->clear_points(MetricChart::Style::Normal);
}

void TrainView::show_metrics(const StepMetrics& m) {
  // Steps are counted from 0; after step s, s + 1 steps are done.
  const int64_t done = m.step + 1;
  progress_->setValue(static_cast<int>(std::min<int64_t>(done, progress_->maximum())));
  step_label_->setText(tr("%1 / %2 (epoch %3)").arg(done).arg(total_steps_).arg(m.epoch + 1));
  loss_label_->setText(QString::number(m.loss, 'f', 4));
  speed_label_->setText(tr("%1 tokens/s, %2 GFLOP/s")
                            .arg(QString::number(m.tokens_per_s, 'f', 0))
                            .arg(QString::number(m.flops_per_s / 1e9, 'f', 1)));
  mfu_label_->setText(std::isnan(m.mfu) ? tr("unknown on the CPU (no peak figure)")
                                        : QString::number(100.0 * m.mfu, 'f', 1) + " %");
  memory_label_->setText(format_bytes(m.memory_bytes));
  eta_label_->setText(tr("%1 elapsed, %2 left").arg(format_duration(m.elapsed_s), format_duration(m.eta_s)));
  loss_->append(tr("train"), static_cast<double>(m.step), m.loss);
}

void TrainView::append_log(LogKind kind, const QString& text) {
  static const char* const colours[] = {"#404040", "#1f6fb2", "#2a7d2a", "#b07000", "#b03030", "#b03030",
                                        "#6a3d9a"};
  const QString time = QDateTime::currentDateTime().toString("HH:mm:ss");
  log_->appendHtml(QString("<span style=\"color:#888\">%1</span> <span style=\"color:%2\">%3</span>")
                       .arg(time, colours[static_cast<int>(kind)], text.toHtmlEscaped()));
}

void TrainView::set_last_run(const QString& run_dir, const QString& description) {
  last_run_ = run_dir;
  resume_last_->setText(tr("Resume last run (%1)").arg(description));
  resume_last_->setToolTip(run_dir);
  resume_last_->setVisible(!run_dir.isEmpty());
}

QString TrainView::status_text() const {
  return QStringList{step_label_->text(), loss_label_->text(), speed_label_->text(), mfu_label_->text(),
                     memory_label_->text(), eta_label_->text()}
      .join(QStringLiteral(" | "));
}

QString TrainView::log_text() const { return log_->toPlainText(); }

void TrainView::choose_run_to_resume() {
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Resume a run directory"), last_run_);
  if (!dir.isEmpty()) emit resume_run_requested(dir);
}

QString TrainView::format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return tr("unknown");
  const auto total = static_cast<int64_t>(std::llround(seconds));
  const int64_t hours = total / 3600, minutes = total / 60 % 60, secs = total % 60;
  if (hours > 0) return QString("%1h %2m").arg(hours).arg(minutes, 2, 10, QChar('0'));
  if (minutes > 0) return QString("%1m %2s").arg(minutes).arg(secs, 2, 10, QChar('0'));
  return QString("%1s").arg(secs);
}

QString TrainView::format_bytes(int64_t bytes) {
  if (bytes <= 0) return tr("unknown");
  return QString::fromStdString(minimind::format_bytes(bytes));
}

}  // namespace minimind
