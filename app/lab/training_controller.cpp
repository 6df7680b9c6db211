// The training thread and the event bridge to the GUI thread.
#include "lab/training_controller.h"

#include <QMetaObject>

#include "backend/backend_factory.h"
#include "backend/device_out_of_memory.h"
#include "lab/failure_message.h"
#include "model/memory_plan.h"
#include "train/event_stream.h"
#include "train/run_logs.h"
#include "train/trainer.h"

namespace minimind {

namespace {

// The training plan of a run on its device (the init_from directory's model when given), as the Configure
// view's memory check builds it; none for sizes or a device the trainer or the factory refuse, which say
// why themselves.
std::optional<TrainingController::Plan> training_plan(const TrainConfig& config,
                                                      const ModelConfig& model_config) {
  const ModelConfig model = config.init_from ? load_config(*config.init_from / "config.json") : model_config;
  if (!validate(model).empty() || config.batch_size < 1 || config.seq_len < 1 ||
      config.seq_len > model.max_position_embeddings || config.accumulation_steps < 1)
    return std::nullopt;
  DeviceSpec device;
  try {
    device = parse_device(config.device);
  } catch (const DeviceNameError&) {
    return std::nullopt;
  }
  MemoryRequest request =
      training_request(model, config.batch_size, config.seq_len, config.accumulation_steps,
                       MemoryTarget::for_choice(device.kind, config.precision));
  request.accumulation_name = "accumulation";  // the Configure view's label
  return TrainingController::Plan{std::move(request), device};
}

// The sizes a run to resume records in its directory (config.json, train_config.json), on `device`; what
// cannot be read is left to the resume to refuse.
std::optional<TrainingController::Plan> resumed_plan(const std::filesystem::path& run_dir,
                                                     const std::string& device) {
  TrainConfig config;
  ModelConfig model;
  try {
    config = load_train_config(run_dir / "train_config.json");
    model = load_config(run_dir / "config.json");
  } catch (const std::exception&) {
    return std::nullopt;
  }
  config.init_from.reset();  // the checkpoint holds the model now
  config.device = device;
  return training_plan(config, model);
}

}  // namespace

// The memory preflight before anything big is allocated: the verdict the Configure view shows at its fields.
// A device whose memory cannot be read (or a GPU that cannot be used, which the factory then refuses) is left
// unchecked.
void TrainingController::check_memory(const std::optional<Plan>& plan) const {
  if (!plan) return;
  AvailableMemory available;
  try {
    available = memory_source_(plan->device);
  } catch (const std::runtime_error&) {
    return;
  }
  const MemoryVerdict verdict = minimind::check_memory(plan->request, available);
  if (!verdict.fits) throw std::runtime_error(verdict.message);
}

QString TrainingController::failure_text(const std::exception& error) const {
  std::string advice;
  if (dynamic_cast<const DeviceOutOfMemory*>(&error) && plan_) {
    try {
      advice = out_of_memory_advice(plan_->request, device_capacity(plan_->device));
    } catch (const std::exception&) {
      // The GPU cannot say its size now: the message keeps the general advice.
    }
  }
  return failure_message(error, advice);
}

TrainingController::TrainingController(QObject* parent) : QObject(parent) {}

TrainingController::~TrainingController() {
  stop();
  wait();
}

bool TrainingController::start(const TrainConfig& config, const ModelConfig& model_config) {
  if (running_) {
    emit failed("a run is already going");
    return false;
  }
  wait();
  release_run();
  try {
    plan_ = training_plan(config, model_config);
    check_memory(plan_);
    backend_ = make_backend(config.device, config.threads);
    events_ = std::make_unique<EventStream>();
    trainer_ = std::make_unique<Trainer>(config, model_config, *backend_, *events_);
    logs_ = std::make_unique<RunLogs>(config.run_dir, std::nullopt, *events_, log_failure_callback());
  } catch (const std::exception& e) {
    emit failed(failure_text(e));
    return false;
  }
  return launch();
}

bool TrainingController::resume_run(const std::filesystem::path& run_dir, const std::string& device,
                                    int threads) {
  if (running_) {
    emit failed("a run is already going");
    return false;
  }
  wait();
  release_run();
  try {
    plan_ = resumed_plan(run_dir, device);
    check_memory(plan_);
    backend_ = make_backend(device, threads);
    events_ = std::make_unique<EventStream>();
    trainer_ = Trainer::resume(run_dir, *backend_, *events_);
    logs_ = std::make_unique<RunLogs>(run_dir, trainer_->step(), *events_, log_failure_callback());
  } catch (const std::exception& e) {
    emit failed(failure_text(e));
    return false;
  }
  return launch();
}

void TrainingController::release_run() {
  // The order of the members' own destruction: the logs use the trainer, which uses the stream and the
  // backend.
  logs_.reset();
  trainer_.reset();
  events_.reset();
  backend_.reset();
}

RunLogs::FailureCallback TrainingController::log_failure_callback() {
  // The trainer outlives the stream's delivery: it is replaced only after the stream has been closed.
  Trainer* trainer = trainer_.get();
  return [trainer](const std::string& message) { trainer->report_log_failure(message); };
}

bool TrainingController::launch() {
  total_steps_ = trainer_->total_steps();
  start_step_ = trainer_->step();
  run_dir_ = trainer_->config().run_dir;
  if (probe_prompt_) trainer_->set_probe_prompt(*probe_prompt_);
  events_->subscribe([this](const Event& event) { deliver(event); });
  running_ = true;
  worker_ = std::thread([this] {
    QString reason;
    bool ok = true;
    try {
      reason = QString::fromStdString(trainer_->run().reason);
    } catch (const std::exception& e) {
      ok = false;
      reason = failure_text(e);
    } catch (...) {
      ok = false;
      reason = tr("The run failed with an error of unknown kind.");
    }
    events_->close();  // every event is delivered before the end is announced
    running_ = false;
    QMetaObject::invokeMethod(
        this,
        [this, ok, reason] {
          if (ok)
            emit finished(reason);
          else
            emit failed(reason);
        },
        Qt::QueuedConnection);
  });
  return true;
}

void TrainingController::deliver(const Event& event) {
  QMetaObject::invokeMethod(
      this,
      [this, event] {
        if (const auto* e = std::get_if<StepMetrics>(&event)) emit step_metrics(*e);
        else if (const auto* e = std::get_if<ValidationResult>(&event)) emit validation(*e);
        else if (const auto* e = std::get_if<CheckpointWritten>(&event))
          emit checkpoint_written(QString::fromStdString(e->path), e->is_best);
        else if (const auto* e = std::get_if<Warning>(&event)) {
          emit warning(QString::fromStdString(e->message));
          if (e->failure) emit problem(QString::fromStdString(e->message));
        } else if (const auto* e = std::get_if<SkippedStep>(&event))
          emit skipped_step(e->step, QString::fromStdString(e->reason));
        else if (const auto* e = std::get_if<AttentionMaps>(&event)) emit attention_maps(*e);
        else if (const auto* e = std::get_if<MoeLoad>(&event)) emit moe_load(*e);
        else if (const auto* e = std::get_if<SampleText>(&event)) emit sample_text(e->step, QString::fromStdString(e->text));
        else if (const auto* e = std::get_if<RunFailed>(&event))
          emit warning(QString::fromStdString(e->message));
      },
      Qt::QueuedConnection);
}

void TrainingController::pause() {
  if (trainer_ && running_) trainer_->request_pause();
}

void TrainingController::resume() {
  if (trainer_) trainer_->request_resume();
}

void TrainingController::stop() {
  if (trainer_ && running_) trainer_->request_stop();
}

bool TrainingController::paused() const { return trainer_ && running_ && trainer_->paused(); }

std::future<ModelSnapshot> TrainingController::snapshot() {
  if (trainer_ && running_) return trainer_->request_snapshot();  // fails itself if the run just ended
  std::promise<ModelSnapshot> refused;
  refused.set_exception(std::make_exception_ptr(std::runtime_error("no training run is going")));
  return refused.get_future();
}

void TrainingController::set_probe_prompt(const QString& prompt) {
  probe_prompt_ = prompt.toStdString();
  if (trainer_ && running_) trainer_->set_probe_prompt(*probe_prompt_);
}

void TrainingController::wait() {
  if (worker_.joinable()) worker_.join();
}

}  // namespace minimind
