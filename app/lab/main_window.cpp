// The main window: builds the views, owns the controllers and wires their signals together.
#include "lab/main_window.h"

#include <QAction>
#include <QCloseEvent>
#include <QDateTime>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabWidget>
#include <QVBoxLayout>
#include <memory>
#include <nlohmann/json.hpp>

#include "attention_view.h"
#include "backend/device_list.h"
#include "config/presets.h"
#include "config/resources.h"
#include "config_view.h"
#include "dashboard_view.h"
#include "data_view.h"
#include "generate_view.h"
#include "lab/data_controller.h"
#include "lab/event_loop_monitor.h"
#include "lab/generation_controller.h"
#include "lab/training_controller.h"
#include "moe_view.h"
#include "rope_view.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"
#include "train/lr_schedule.h"
#include "train_view.h"

namespace minimind {

namespace {

constexpr const char* kSettingsGeometry = "window/geometry";
constexpr const char* kSettingsState = "window/state";
constexpr const char* kSettingsTab = "window/tab";
constexpr const char* kSettingsConfig = "lab/run_config";
constexpr const char* kSettingsLastRun = "lab/last_run";
constexpr const char* kSettingsThreads = "lab/threads";
constexpr const char* kSettingsDevice = "lab/device";

QString runs_root() {
  return QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + QStringLiteral("/runs");
}

// "step 120 of 500" for a run directory's latest checkpoint, or empty when it has none.
QString describe_run(const QString& run_dir) {
  const auto checkpoint = latest_checkpoint(run_dir.toStdString());
  if (!checkpoint) return {};
  const auto step = checkpoint_step(*checkpoint);
  return step ? QObject::tr("checkpoint at step %1").arg(*step) : QObject::tr("has a checkpoint");
}

}  // namespace

RunConfig MainWindow::default_run_config() {
  RunConfig config;
  config.model = preset("tiny");
  TrainConfig& train = config.train;
  train.batch_size = 16;
  train.seq_len = 256;
  train.epochs = 4;
  train.schedule.kind = ScheduleKind::warmup_cosine;
  train.schedule.learning_rate = 2e-3;
  train.schedule.min_learning_rate = 2e-4;
  train.schedule.warmup_steps = 20;
  train.schedule.total_steps = 0;  // the whole run
  train.eval_every = 50;
  train.eval_batches = 8;
  train.save_every = 100;
  train.keep_last = 2;
  train.sample_every = 25;
  train.probe_prompt = "A journey of a thousand miles begins with a single step.";
  return config;
}

MainWindow::MainWindow(std::optional<RunConfig> initial, QWidget* parent) : QMainWindow(parent) {
  setWindowTitle(tr("MiniMind Lab"));
  auto* central = new QWidget(this);
  auto* layout = new QVBoxLayout(central);
  layout->setContentsMargins(4, 4, 4, 4);
  error_banner_ = new QLabel(central);
  error_banner_->setObjectName("error_banner");
  error_banner_->setWordWrap(true);
  error_banner_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  error_banner_->setStyleSheet(
      "QLabel { background: #fdecea; color: #7a1c1c; border: 1px solid #e0a0a0; padding: 6px; }");
  error_banner_->hide();
  layout->addWidget(error_banner_);

  tabs_ = new QTabWidget(central);
  config_view_ = new ConfigView(tabs_);
  data_view_ = new DataView(tabs_);
  train_view_ = new TrainView(tabs_);
  dashboard_view_ = new DashboardView(tabs_);
  attention_view_ = new AttentionView(tabs_);
  rope_view_ = new RopeView(tabs_);
  moe_view_ = new MoeView(tabs_);
  generate_view_ = new GenerateView(tabs_);
  tabs_->addTab(config_view_, tr("&Configure"));
  tabs_->addTab(data_view_, tr("&Data"));
  tabs_->addTab(train_view_, tr("&Train"));
  tabs_->addTab(dashboard_view_, tr("Dash&board"));
  tabs_->addTab(attention_view_, tr("&Attention"));
  tabs_->addTab(rope_view_, tr("&RoPE"));
  tabs_->addTab(moe_view_, tr("&MoE"));
  tabs_->addTab(generate_view_, tr("&Generate"));
  layout->addWidget(tabs_, 1);
  setCentralWidget(central);

  training_ = new TrainingController(this);
  data_ = new DataController(this);
  generation_ = new GenerationController(this, train_view_->device().toStdString());
  monitor_ = new EventLoopMonitor(this);
  latency_label_ = new QLabel(this);
  latency_label_->setToolTip(tr("How late the window's event loop ran in the last second (and at worst)"));
  statusBar()->addPermanentWidget(latency_label_);
  connect(monitor_, &EventLoopMonitor::measured, this, [this](double last_ms, double max_ms) {
    latency_label_->setText(tr("UI latency %1 ms (max %2 ms)").arg(last_ms, 0, 'f', 0).arg(max_ms, 0, 'f', 0));
  });

  build_menus();
  connect_training();
  connect_data();
  connect_generation();
  // The device choice: the GPUs as the driver reports them, and the cost panel on the chosen device.
  connect(train_view_, &TrainView::device_changed, this, &MainWindow::device_changed);
  train_view_->set_devices(list_devices());
  connect(config_view_, &ConfigView::config_changed, this, &MainWindow::config_changed);
  connect(config_view_, &ConfigView::validity_changed, this, [this](bool valid) {
    train_view_->set_start_allowed(valid, valid ? QString()
                                                : tr("Fix the configuration first: %1")
                                                      .arg(config_view_->problems().join("; ")));
  });
  connect(config_view_, &ConfigView::train_requested, this, [this] {
    tabs_->setCurrentIndex(train_tab);
    start_training();
  });

  resize(1280, 860);
  config_view_->set_run_config(initial ? *initial : default_run_config());
  restore_settings(!initial.has_value());
  config_changed(config_view_->run_config());
  load_sample_tokenizer(data_view_->request().tokenizer_path);
  if (generate_view_->prompt().isEmpty()) generate_view_->set_prompt(tr("The secret of life is"));
}

MainWindow::~MainWindow() = default;

void MainWindow::build_menus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("&Load configuration..."), this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, tr("Load a configuration"), {}, tr("JSON (*.json)"));
    if (!path.isEmpty())
      if (const QString error = config_view_->load_file(path); !error.isEmpty()) show_error(error);
  });
  file->addAction(tr("&Save configuration..."), this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save the configuration"), "run_config.json",
                                                      tr("JSON (*.json)"));
    if (!path.isEmpty())
      if (const QString error = config_view_->save_file(path); !error.isEmpty()) show_error(error);
  });
  file->addAction(tr("&Resume a run directory..."), this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Resume a run directory"), last_run_dir_);
    if (!dir.isEmpty()) resume_run(dir);
  });
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

  QMenu* run = menuBar()->addMenu(tr("&Run"));
  QAction* start = run->addAction(tr("&Start training"), QKeySequence(Qt::Key_F5), this, &MainWindow::start_training);
  start->setObjectName("action_start");
  run->addAction(tr("&Pause"), QKeySequence(Qt::Key_F6), train_view_, &TrainView::pause_requested);
  run->addAction(tr("Res&ume"), QKeySequence(Qt::Key_F7), train_view_, &TrainView::resume_requested);
  run->addAction(tr("S&top"), QKeySequence(Qt::SHIFT | Qt::Key_F5), train_view_, &TrainView::stop_requested);

  QMenu* generate = menuBar()->addMenu(tr("&Generate"));
  generate->addAction(tr("Use the model being &trained"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_M), this, [this] {
    tabs_->setCurrentIndex(generate_tab);
    use_training_model();
  });
  generate->addAction(tr("&Load a model directory..."), this, [this] {
    tabs_->setCurrentIndex(generate_tab);
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Load a model directory"), last_run_dir_);
    if (!dir.isEmpty()) generation_->load_model_dir(dir, {});
  });

  QMenu* view = menuBar()->addMenu(tr("&View"));
  for (int i = 0; i < tabs_->count(); ++i) {
    QString name = tabs_->tabText(i);
    name.remove('&');
    view->addAction(name, QKeySequence(Qt::CTRL | static_cast<Qt::Key>(Qt::Key_1 + i)), this,
                    [this, i] { tabs_->setCurrentIndex(i); });
  }
}

void MainWindow::connect_training() {
  connect(train_view_, &TrainView::start_requested, this, &MainWindow::start_training);
  connect(train_view_, &TrainView::resume_run_requested, this, &MainWindow::resume_run);
  connect(train_view_, &TrainView::pause_requested, this, [this] {
    if (!training_->running() || train_view_->state() != TrainView::State::running) return;
    training_->pause();
    train_view_->set_state(TrainView::State::paused);
    train_view_->append_log(TrainView::LogKind::info, tr("Paused after the current micro-step."));
  });
  connect(train_view_, &TrainView::resume_requested, this, [this] {
    if (train_view_->state() != TrainView::State::paused) return;
    training_->resume();
    train_view_->set_state(TrainView::State::running);
    train_view_->append_log(TrainView::LogKind::info, tr("Resumed."));
  });
  connect(train_view_, &TrainView::stop_requested, this, [this] {
    if (train_view_->state() == TrainView::State::preparing) {
      start_after_prepare_ = false;
      data_->cancel();
      train_view_->set_state(TrainView::State::idle);
      return;
    }
    if (!training_->running()) return;
    training_->stop();
    train_view_->set_state(TrainView::State::stopping);
    train_view_->append_log(TrainView::LogKind::info, tr("Stopping: finishing the micro-step and writing a checkpoint."));
  });

  connect(training_, &TrainingController::step_metrics, this, [this](const StepMetrics& m) {
    train_view_->show_metrics(m);
    dashboard_view_->add(m);
    moe_view_->add_aux_loss(m.step, m.aux_loss);
  });
  connect(training_, &TrainingController::validation, this, [this](const ValidationResult& v) {
    dashboard_view_->add(v);
    train_view_->append_log(TrainView::LogKind::validation,
                            tr("Validation at step %1: loss %2, perplexity %3")
                                .arg(v.step)
                                .arg(v.loss, 0, 'f', 4)
                                .arg(v.perplexity, 0, 'f', 2));
  });
  connect(training_, &TrainingController::checkpoint_written, this, [this](const QString& path, bool best) {
    train_view_->append_log(TrainView::LogKind::checkpoint,
                            best ? tr("Checkpoint %1 (best validation loss so far)").arg(path)
                                 : tr("Checkpoint %1").arg(path));
  });
  connect(training_, &TrainingController::warning, this,
          [this](const QString& text) { train_view_->append_log(TrainView::LogKind::warning, text); });
  // Something failed while the run goes on (its logs cannot be written): in the banner too, not only the log.
  connect(training_, &TrainingController::problem, this, &MainWindow::show_error);
  connect(training_, &TrainingController::skipped_step, this, [this](qint64 step, const QString& reason) {
    train_view_->append_log(TrainView::LogKind::skipped, tr("Skipped step %1: %2").arg(step).arg(reason));
  });
  connect(training_, &TrainingController::attention_maps, attention_view_, &AttentionView::set_maps);
  connect(training_, &TrainingController::moe_load, moe_view_, qOverload<const MoeLoad&>(&MoeView::add));
  connect(training_, &TrainingController::sample_text, this, [this](qint64 step, const QString& text) {
    train_view_->append_log(TrainView::LogKind::sample,
                            text.isEmpty() ? tr("Sample at step %1: (the model ended the text at once)").arg(step)
                                           : tr("Sample at step %1: %2").arg(step).arg(text));
  });
  connect(training_, &TrainingController::finished, this, [this](const QString& r) { run_ended(r, false); });
  connect(training_, &TrainingController::failed, this, [this](const QString& r) { run_ended(r, true); });
}

void MainWindow::connect_data() {
  connect(data_view_, &DataView::prepare_requested, this, [this](const DataRequest& request) {
    if (!data_->prepare(request)) return;
    data_view_->set_busy(true);
  });
  connect(data_view_, &DataView::train_tokenizer_requested, this,
          [this](const DataRequest& request, int vocab_size, const QString& out_dir) {
            if (data_->train_tokenizer(request, vocab_size, out_dir)) data_view_->set_busy(true);
          });
  connect(data_view_, &DataView::cancel_requested, data_, &DataController::cancel);
  connect(data_, &DataController::progress, this, [this](const QString& stage, qint64 done, qint64 total) {
    data_view_->show_progress(stage, done, total);
    if (start_after_prepare_) statusBar()->showMessage(tr("%1: %2%").arg(stage).arg(total > 0 ? 100 * done / total : 0));
  });
  connect(data_, &DataController::prepared, this, [this](const QString& data_dir, const PrepareSummary& summary) {
    data_view_->set_busy(false);
    data_view_->show_summary(summary);
    statusBar()->clearMessage();
    if (std::exchange(start_after_prepare_, false)) launch_training(data_dir);
  });
  connect(data_, &DataController::tokenizer_trained, this, [this](const QString& path) {
    data_view_->set_busy(false);
    data_view_->show_trained_tokenizer(path);
  });
  connect(data_, &DataController::cancelled, this, [this] {
    data_view_->set_busy(false);
    data_view_->show_progress(tr("Cancelled"), 0, 1);
  });
  connect(data_view_, &DataView::tokenizer_chosen, this, &MainWindow::load_sample_tokenizer);
  connect(data_, &DataController::failed, this, [this](const QString& message) {
    data_view_->set_busy(false);
    data_view_->show_error(message);
    if (std::exchange(start_after_prepare_, false)) {
      train_view_->set_state(TrainView::State::idle);
      show_error(tr("The data could not be prepared: %1").arg(message));
    }
  });
}

void MainWindow::connect_generation() {
  connect(generate_view_, &GenerateView::generate_requested, generation_, &GenerationController::generate);
  connect(generate_view_, &GenerateView::stop_requested, generation_, &GenerationController::stop);
  connect(generate_view_, &GenerateView::load_model_requested, this,
          [this](const QString& dir) { generation_->load_model_dir(dir, {}); });
  connect(generate_view_, &GenerateView::use_training_model_requested, this, &MainWindow::use_training_model);
  connect(generation_, &GenerationController::model_loaded, this, [this](const QString& description) {
    generate_view_->set_model_description(description);
    if (!pending_attention_prompt_.isEmpty()) generation_->compute_attention(std::exchange(pending_attention_prompt_, {}));
  });
  connect(generation_, &GenerationController::token, generate_view_, &GenerateView::append_token);
  connect(generation_, &GenerationController::finished, generate_view_, &GenerateView::finish);
  connect(generation_, &GenerationController::failed, this, [this](const QString& message) {
    pending_attention_prompt_.clear();
    generate_view_->show_error(message);
  });
  connect(generation_, &GenerationController::attention_maps, attention_view_, &AttentionView::set_maps);
  connect(attention_view_, &AttentionView::refresh_requested, this, &MainWindow::refresh_attention);
}

void MainWindow::load_sample_tokenizer(const QString& path) {
  const std::filesystem::path file =
      path.isEmpty() ? default_tokenizer_dir() / "tokenizer.json" : std::filesystem::path(path.toStdString());
  try {
    data_view_->set_tokenizer(std::make_shared<const Tokenizer>(
        Tokenizer::load(std::filesystem::is_directory(file) ? file / "tokenizer.json" : file)));
  } catch (const std::exception& e) {
    data_view_->show_error(tr("The tokenizer could not be loaded: %1").arg(e.what()));
  }
}

void MainWindow::config_changed(const RunConfig& config) {
  rope_view_->set_config(config.model);
  moe_view_->set_config(config.model);
  attention_view_->set_probe_prompt(QString::fromStdString(config.train.probe_prompt));
  if (!training_->running()) {
    // The planned learning rate, drawn before the run starts; the exact step count comes with the run.
    ScheduleConfig schedule = config.train.schedule;
    if (config.train.max_steps > 0) schedule.total_steps = config.train.max_steps;
    try {
      if (schedule.total_steps > 1) dashboard_view_->set_planned_learning_rate(schedule_curve(schedule));
    } catch (const std::exception&) {
      // An impossible schedule is marked in the Configure view; there is nothing to plan.
    }
  }
}

void MainWindow::start_training() {
  if (training_->running() || train_view_->state() != TrainView::State::idle) return;
  if (!config_view_->valid()) {
    show_error(tr("The configuration has problems: %1").arg(config_view_->problems().join("; ")));
    tabs_->setCurrentIndex(configure_tab);
    return;
  }
  error_banner_->hide();
  const DataRequest request = data_view_->request();
  const QString data_dir = DataController::data_dir_for(request);
  if (DataController::is_prepared(data_dir)) {
    launch_training(data_dir);
    return;
  }
  train_view_->append_log(TrainView::LogKind::info, tr("Preparing the data (tokenizing the corpus) first..."));
  train_view_->set_state(TrainView::State::preparing);
  start_after_prepare_ = true;
  if (!data_->prepare(request)) {
    start_after_prepare_ = false;
    train_view_->set_state(TrainView::State::idle);
  }
}

void MainWindow::launch_training(const QString& data_dir) {
  RunConfig config = config_view_->run_config();
  TrainConfig& train = config.train;
  train.data_dir = data_dir.toStdString();
  const DataRequest request = data_view_->request();
  train.tokenizer = DataController::tokenizer_json_for(request).toStdString();
  train.device = train_view_->device().toStdString();
  train.threads = train_view_->threads();
  train.probe_prompt = attention_view_->probe_prompt().toStdString();
  if (train.run_dir.empty()) {
    const QString name = QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss");
    train.run_dir = (runs_root() + "/" + name).toStdString();
  } else if (latest_checkpoint(train.run_dir)) {
    show_error(tr("%1 already holds checkpoints: continue it with Resume, or choose another run directory.")
                   .arg(QString::fromStdString(train.run_dir.string())));
    train_view_->set_state(TrainView::State::idle);
    return;
  }
  if (!training_->start(train, config.model)) {
    train_view_->set_state(TrainView::State::idle);
    return;  // failed() has shown why
  }
  const QString run_dir = QString::fromStdString(training_->run_dir().string());
  dashboard_view_->clear_run();
  moe_view_->clear();
  ScheduleConfig schedule = train.schedule;
  schedule.total_steps = training_->total_steps();
  try {
    dashboard_view_->set_planned_learning_rate(schedule_curve(schedule));
  } catch (const std::exception&) {
  }
  train_view_->begin_run(run_dir, 0, training_->total_steps());
  train_view_->set_state(TrainView::State::running);
  train_view_->append_log(TrainView::LogKind::info, tr("Training %1 steps into %2").arg(training_->total_steps()).arg(run_dir));
  remember_run(run_dir);
  monitor_->reset();
}

void MainWindow::resume_run(const QString& run_dir) {
  if (training_->running()) return;
  error_banner_->hide();
  if (!training_->resume_run(run_dir.toStdString(), train_view_->device().toStdString(),
                             train_view_->threads())) {
    train_view_->set_state(TrainView::State::idle);
    return;
  }
  dashboard_view_->clear_run();
  moe_view_->clear();
  dashboard_view_->load_overlay(run_dir + "/metrics.csv");
  train_view_->begin_run(run_dir, training_->start_step(), training_->total_steps());
  train_view_->set_state(TrainView::State::running);
  train_view_->append_log(TrainView::LogKind::info,
                          tr("Resumed %1 at step %2").arg(run_dir).arg(training_->start_step()));
  tabs_->setCurrentIndex(train_tab);
  remember_run(run_dir);
  monitor_->reset();
}

void MainWindow::run_ended(const QString& reason, bool failed) {
  train_view_->set_state(TrainView::State::idle);
  const bool normal = !failed && (reason == "finished" || reason == "stopped");
  train_view_->append_log(normal ? TrainView::LogKind::info : TrainView::LogKind::error,
                          normal ? tr("Run %1.").arg(reason) : tr("The run ended: %1").arg(reason));
  if (!normal) show_error(failed ? tr("Training failed: %1").arg(reason) : tr("Training stopped: %1").arg(reason));
  remember_run(last_run_dir_);
  if (closing_) close();
}

void MainWindow::use_training_model() {
  if (training_->running()) {
    // The controller's worker waits for the trainer's next micro-step boundary; this thread does not.
    generation_->load_snapshot(training_->snapshot(), data_view_->request().tokenizer_path);
    return;
  }
  const auto checkpoint = last_run_dir_.isEmpty() ? std::nullopt : latest_checkpoint(last_run_dir_.toStdString());
  if (!checkpoint) {
    generate_view_->show_error(tr("No model is being trained and the last run has no checkpoint yet: start "
                                  "training, or load a model directory."));
    return;
  }
  generation_->load_model_dir(QString::fromStdString(checkpoint->string()), data_view_->request().tokenizer_path);
}

void MainWindow::refresh_attention(const QString& prompt) {
  training_->set_probe_prompt(prompt);
  if (generation_->has_model() && !training_->running()) {
    generation_->compute_attention(prompt);
    return;
  }
  pending_attention_prompt_ = prompt;  // computed once the model (a fresh snapshot) is loaded
  use_training_model();
}

void MainWindow::device_changed(const QString& device) {
  const DeviceSpec spec = parse_device(device.toStdString());
  config_view_->set_device(device, [spec] { return available_memory(spec); });
  // Generation (samples, chat, attention maps) follows the device the run trains on.
  if (device != generation_->device()) generation_->set_device(device);
}

void MainWindow::show_error(const QString& message) {
  error_banner_->setText(message);
  error_banner_->show();
  statusBar()->showMessage(message, 10000);
}

QString MainWindow::error_text() const { return error_banner_->isHidden() ? QString() : error_banner_->text(); }

void MainWindow::closeEvent(QCloseEvent* event) {
  const bool busy = training_->running() || train_view_->state() == TrainView::State::preparing;
  if (busy && !closing_) {
    auto ask = [this] {
      return QMessageBox::question(this, tr("A run is training"),
                                   tr("A run is training. Stop it, save a checkpoint and quit?\n\nIt can be resumed "
                                      "later from its run directory."),
                                   QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel) == QMessageBox::Yes;
    };
    if (!(confirm_close_ ? confirm_close_() : ask())) {
      event->ignore();
      return;
    }
    closing_ = true;
    if (train_view_->state() == TrainView::State::preparing) {
      start_after_prepare_ = false;
      data_->cancel();
    }
    if (training_->running()) {
      training_->stop();  // the run writes a checkpoint; run_ended() closes the window once it is done
      train_view_->set_state(TrainView::State::stopping);
      statusBar()->showMessage(tr("Stopping the run and writing a checkpoint before quitting..."));
      event->ignore();
      return;
    }
  }
  save_settings();
  event->accept();
}

void MainWindow::remember_run(const QString& run_dir) {
  if (run_dir.isEmpty()) return;
  last_run_dir_ = run_dir;
  const QString description = describe_run(run_dir);
  train_view_->set_last_run(description.isEmpty() ? QString() : run_dir, description);
  QSettings().setValue(kSettingsLastRun, run_dir);
}

void MainWindow::restore_settings(bool restore_config) {
  QSettings settings;
  restoreGeometry(settings.value(kSettingsGeometry).toByteArray());
  restoreState(settings.value(kSettingsState).toByteArray());
  tabs_->setCurrentIndex(settings.value(kSettingsTab, int(train_tab)).toInt());
  if (settings.contains(kSettingsThreads)) train_view_->set_threads(settings.value(kSettingsThreads).toInt());
  // A GPU chosen last time, when it is still there and usable.
  if (settings.contains(kSettingsDevice))
    train_view_->select_device(settings.value(kSettingsDevice).toString());
  if (restore_config && settings.contains(kSettingsConfig)) {
    try {
      const auto json = nlohmann::json::parse(settings.value(kSettingsConfig).toString().toStdString());
      config_view_->set_run_config(run_config_from_json(json, "the saved settings"));
    } catch (const std::exception& e) {
      statusBar()->showMessage(tr("The saved configuration could not be restored (%1); using the defaults.").arg(e.what()));
    }
  }
  const QString last_run = settings.value(kSettingsLastRun).toString();
  if (!last_run.isEmpty() && QFileInfo(last_run).isDir()) {
    remember_run(last_run);
    if (QFileInfo::exists(last_run + "/metrics.csv")) dashboard_view_->load_overlay(last_run + "/metrics.csv");
  }
}

void MainWindow::save_settings() const {
  QSettings settings;
  settings.setValue(kSettingsGeometry, saveGeometry());
  settings.setValue(kSettingsState, saveState());
  settings.setValue(kSettingsTab, tabs_->currentIndex());
  settings.setValue(kSettingsThreads, train_view_->threads());
  settings.setValue(kSettingsDevice, train_view_->device());
  settings.setValue(kSettingsConfig, QString::fromStdString(run_config_to_json(config_view_->run_config()).dump()));
  if (!last_run_dir_.isEmpty()) settings.setValue(kSettingsLastRun, last_run_dir_);
}

}  // namespace minimind
