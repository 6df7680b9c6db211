// The lab's training controller: owns the training thread, drives the core Trainer (start, pause, resume,
// stop) and turns its events into Qt signals delivered on the GUI thread, so views only ever receive values.
#pragma once

#include <QObject>
#include <QString>
#include <atomic>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "backend/backend_factory.h"
#include "backend/device_list.h"
#include "config/memory_preflight.h"
#include "config/model_config.h"
#include "model/model_snapshot.h"
#include "train/events.h"
#include "train/run_logs.h"
#include "train/train_config.h"

namespace minimind {

class Backend;
class EventStream;
class Trainer;

class TrainingController : public QObject {
  Q_OBJECT
 public:
  // A run's training plan as the memory preflight checks it: the estimate on the run's device (bf16 mixed
  // precision on a GPU), kept for the advice when the GPU runs out of memory all the same.
  struct Plan {
    MemoryRequest request;
    DeviceSpec device;
  };

  explicit TrainingController(QObject* parent = nullptr);
  ~TrainingController() override;  // stops a running run (it ends with a checkpoint) and joins the thread

  // Starts a run on config.device on the training thread. Returns false and emits failed() when a run is
  // going or the setup is refused (bad config, unreadable data, a plan that does not fit in the device's
  // memory). The previous run's trainer and backend are released first, so its buffers are free for this one.
  bool start(const TrainConfig& config, const ModelConfig& model_config);
  // Continues the run in `run_dir` on `device` (cpu, cuda, cuda:N) with `threads` CPU threads (0: all).
  bool resume_run(const std::filesystem::path& run_dir, const std::string& device = "cpu", int threads = 0);

  void pause();
  void resume();
  void stop();  // honoured within one micro-step; the run writes a checkpoint
  bool running() const { return running_; }
  // Of the current (or last) run: 0 and empty before the first start.
  int64_t total_steps() const { return total_steps_; }
  int64_t start_step() const { return start_step_; }  // the step a resumed run continues from
  std::filesystem::path run_dir() const { return run_dir_; }
  bool paused() const;
  void wait();  // until the training thread has ended

  // A copy of the weights being trained (served between micro-steps, also while paused). With no run going
  // the future already holds a std::runtime_error saying so.
  std::future<ModelSnapshot> snapshot();
  // The probe prompt of the attention maps and sample text: the running run's from its next probe on, and
  // every later run's.
  void set_probe_prompt(const QString& prompt);
  // Where the preflight reads a device's memory: available_memory (device_list.h) unless replaced (tests).
  void set_memory_source(std::function<AvailableMemory(const DeviceSpec&)> source) {
    memory_source_ = std::move(source);
  }

 signals:
  void step_metrics(const minimind::StepMetrics& metrics);
  void validation(const minimind::ValidationResult& result);
  void checkpoint_written(const QString& path, bool best);
  void warning(const QString& message);  // every Warning, and the message of a RunFailed, for the log
  // A Warning that something failed (a log file that cannot be written) while the run goes on; it also
  // comes as warning(). A failure that ends the run comes as failed().
  void problem(const QString& message);
  void skipped_step(qint64 step, const QString& reason);
  void attention_maps(const minimind::AttentionMaps& maps);
  void moe_load(const minimind::MoeLoad& load);
  void sample_text(qint64 step, const QString& text);
  void finished(const QString& reason);
  // A refused setup, or an error that ended the run (any exception of the training thread, an allocation
  // failure included), in plain words. The run's last complete checkpoint stays; the stream and the log files
  // are closed before it is emitted.
  void failed(const QString& message);

 private:
  bool launch();
  void release_run();  // the last run's logs, trainer, stream and backend
  void check_memory(const std::optional<Plan>& plan) const;  // throws the verdict when it does not fit
  QString failure_text(const std::exception& error) const;   // with the advice for a GPU's out-of-memory
  RunLogs::FailureCallback log_failure_callback();  // tells the current trainer
  void deliver(const Event& event);                 // on the stream's thread: queued to this object's thread

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<EventStream> events_;
  std::unique_ptr<Trainer> trainer_;
  std::unique_ptr<RunLogs> logs_;  // the run directory's metrics.jsonl, metrics.csv and TensorBoard files
  std::thread worker_;
  int64_t total_steps_ = 0;
  int64_t start_step_ = 0;
  std::filesystem::path run_dir_;
  std::atomic<bool> running_{false};
  std::optional<std::string> probe_prompt_;  // set_probe_prompt's, applied to each run started after it
  std::optional<Plan> plan_;                 // of the current (or last) run; none when it was not checked
  std::function<AvailableMemory(const DeviceSpec&)> memory_source_ = available_memory;
};

}  // namespace minimind
