// The training session: loader -> batch -> forward -> loss -> backward -> guard -> AdamW -> events (each
// step through train/training_step.h), on the calling thread, with pause / resume / stop requested from any
// other thread (checked between micro-steps), validation every N steps, checkpoints that resume bit for bit,
// and every metric published as an event.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <string>

#include "backend/backend.h"
#include "config/model_config.h"
#include "model/model_snapshot.h"
#include "train/event_stream.h"
#include "train/train_config.h"

namespace minimind {

struct TrainOutcome {
  int64_t steps = 0;          // optimizer steps taken in total (including before a resume)
  std::string reason;         // "finished", "stopped", or why the guard stopped the run
  double last_loss = 0;
  double best_validation_loss = 0;
  std::filesystem::path last_checkpoint;
};

class Trainer {
 public:
  // A new run: the model comes from config.init_from or is initialised from the seed with `model_config`.
  Trainer(const TrainConfig& config, const ModelConfig& model_config, Backend& backend, EventStream& events);
  // Continues the run in `run_dir` from its latest complete checkpoint.
  static std::unique_ptr<Trainer> resume(const std::filesystem::path& run_dir, Backend& backend, EventStream& events);
  ~Trainer();

  // Returns when the run ends, is stopped (after a checkpoint) or is stopped by the guard. An error ends the
  // run: before it propagates, a RunFailed event says what failed, in which phase and step, and which is the
  // run's last complete checkpoint, followed by RunFinished{"failed: <error>"}. An allocation failure
  // propagates as OutOfMemoryError (a std::bad_alloc naming the phase and step).
  TrainOutcome run();

  // From any thread (RunLogs' failure callback): a log of the run cannot be written. At the end of the
  // current step the run writes a checkpoint to check that it can still save itself: if it can, it goes on
  // with a Warning (failure = true) carrying `message`; if not, it ends with the checkpoint's error.
  void report_log_failure(std::string message);

  // From any thread; honoured between micro-steps.
  void request_pause();
  void request_resume();
  void request_stop();
  bool paused() const;

  // A copy of the weights being trained, taken by the training thread between micro-steps (the weights of
  // the optimizer step the run stands at), also while paused. Requests pending when the run ends are served
  // with the final weights. When run() is not going (not started yet, or ended) the future holds a
  // std::runtime_error saying so; it never hangs.
  std::future<ModelSnapshot> request_snapshot();

  // The prompt the next probes (attention maps, sample text) use; from any thread. Starts as
  // config().probe_prompt.
  void set_probe_prompt(std::string prompt);

  // Called with each step's gradient buffer after its last backward, before the step's norm, update decision
  // and AdamW (inspection, fault injection in tests); the buffer lives on the backend's device. Set it
  // before run().
  void set_gradient_hook(std::function<void(int64_t step, Tensor& gradients)> hook);

  const TrainConfig& config() const;
  int64_t step() const;
  int64_t total_steps() const;

 private:
  struct Impl;
  explicit Trainer(std::unique_ptr<Impl> impl);
  TrainOutcome run_steps();
  std::unique_ptr<Impl> impl_;
};

// Mean loss and perplexity of a model directory on a prepared validation shard (minimind eval).
struct Evaluation {
  double loss = 0;
  double perplexity = 0;
  int64_t tokens = 0;
};
Evaluation evaluate_model(const std::filesystem::path& model_dir, const std::filesystem::path& shard, int64_t batch_size,
                          int64_t seq_len, bool packed, Backend& backend);

}  // namespace minimind
