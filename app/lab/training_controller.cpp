// The training thread and the event bridge to the GUI thread.
#include "lab/training_controller.h"

#include <QMetaObject>
#include <cerrno>
#include <cstring>
#include <new>
#include <system_error>

#include "backend/backend_factory.h"
#include "model/memory_plan.h"
#include "train/event_stream.h"
#include "train/out_of_memory_error.h"
#include "train/run_logs.h"
#include "train/trainer.h"

namespace minimind {

namespace {

// Whether the error says that a disk (or a quota) is full: by its code, or by the system's text for one of
// those codes, which the checkpoint and log writers put in their messages.
bool is_disk_full(const std::exception& e) {
  constexpr int kFull[] = {ENOSPC, EDQUOT};
  if (const auto* system = dynamic_cast<const std::system_error*>(&e))
    for (const int code : kFull)
      if (system->code() == std::errc(code)) return true;
  const std::string text = e.what();
  for (const int code : kFull)
    if (text.find(std::strerror(code)) != std::string::npos) return true;
  return false;
}

// What a failure says in the window: an allocation failure gets advice instead of "std::bad_alloc", a full
// disk says so first, then the details (which file, which step).
QString plain_message(const std::exception& e) {
  const QString advice = QObject::tr(
      "this model, batch size and sequence length need more memory than the "
      "machine has free. Lower the batch size or the sequence length (the "
      "Configure view shows the estimate).");
  if (const auto* oom = dynamic_cast<const OutOfMemoryError*>(&e))
    return QObject::tr("Out of memory while %1 at step %2: %3")
        .arg(oom->phase())
        .arg(oom->step())
        .arg(advice);
  if (dynamic_cast<const std::bad_alloc*>(&e)) return QObject::tr("Out of memory: %1").arg(advice);
  if (is_disk_full(e))
    return QObject::tr(
               "The disk is full: free some space, then resume the run from its last checkpoint. (%1)")
        .arg(QString::fromStdString(e.what()));
  return QString::fromStdString(e.what());
}

// The memory preflight before anything big is allocated: the verdict the Configure view shows at its fields,
// for the model the run trains (the init_from directory's when given). Sizes the trainer refuses are left to
// it, and so is a machine whose available memory cannot be read.
void check_memory_before_start(const TrainConfig& config, const ModelConfig& model_config) {
  const ModelConfig model = config.init_from ? load_config(*config.init_from / "config.json") : model_config;
  if (!validate(model).empty() || config.batch_size < 1 || config.seq_len < 1 ||
      config.seq_len > model.max_position_embeddings || config.accumulation_steps < 1)
    return;
  AvailableMemory available;
  try {
    available = available_system_memory();
  } catch (const std::runtime_error&) {
    return;
  }
  MemoryRequest request =
      training_request(model, config.batch_size, config.seq_len, config.accumulation_steps);
  request.accumulation_name = "accumulation";  // the Configure view's label
  const MemoryVerdict verdict = check_memory(request, available);
  if (!verdict.fits) throw std::runtime_error(verdict.message);
}

// The same for a run to resume, at the sizes its directory records (config.json, train_config.json); what
// cannot be read is left to the resume to refuse.
void check_memory_before_resume(const std::filesystem::path& run_dir) {
  TrainConfig config;
  ModelConfig model;
  try {
    config = load_train_config(run_dir / "train_config.json");
    model = load_config(run_dir / "config.json");
  } catch (const std::exception&) {
    return;
  }
  config.init_from.reset();  // the checkpoint holds the model now
  check_memory_before_start(config, model);
}

}  // namespace

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
  try {
    check_memory_before_start(config, model_config);
    backend_ = make_backend(config.device, config.threads);
    events_ = std::make_unique<EventStream>();
    trainer_ = std::make_unique<Trainer>(config, model_config, *backend_, *events_);
    logs_ = std::make_unique<RunLogs>(config.run_dir, std::nullopt, *events_, log_failure_callback());
  } catch (const std::exception& e) {
    emit failed(plain_message(e));
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
  try {
    check_memory_before_resume(run_dir);
    backend_ = make_backend(device, threads);
    events_ = std::make_unique<EventStream>();
    trainer_ = Trainer::resume(run_dir, *backend_, *events_);
    logs_ = std::make_unique<RunLogs>(run_dir, trainer_->step(), *events_, log_failure_callback());
  } catch (const std::exception& e) {
    emit failed(plain_message(e));
    return false;
  }
  return launch();
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
      reason = plain_message(e);
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
