// The lab's generation controller: owns one worker thread that loads a model (a model directory, or a
// snapshot of the model being trained), streams generated tokens with their top candidates, and computes
// attention maps on demand. Results and errors arrive as signals on the GUI thread; views only receive values.
#pragma once

#include <QObject>
#include <QString>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "generation_request.h"
#include "model/model_snapshot.h"
#include "train/events.h"

namespace minimind {

class Backend;
class MiniMindModel;
class Tokenizer;

class GenerationController : public QObject {
  Q_OBJECT
 public:
  // Models are loaded onto `device` (cpu, cuda, cuda:N); `threads`: the CPU backend's threads (0: all cores).
  explicit GenerationController(QObject* parent = nullptr, const std::string& device = "cpu",
                                int threads = 0);
  ~GenerationController() override;  // stops a generation and joins the worker

  // Each returns false and emits failed() when the request is refused at once (a path that is not a model
  // directory, nothing loaded, a generation already running); otherwise the work is queued on the worker and
  // ends with model_loaded / finished / attention_maps, or failed.

  // config.json + model.safetensors from `dir`. The tokenizer: `tokenizer_path`, else tokenizer.json in `dir`
  // when present, else the lab's default one. A generation in progress is stopped first.
  bool load_model_dir(const QString& dir, const QString& tokenizer_path = {});
  // A copy of the model being trained. The tokenizer: `tokenizer_path`, else the run's, else the default.
  bool load_snapshot(ModelSnapshot snapshot, const QString& tokenizer_path = {});
  // As above, for a snapshot still being taken (TrainingController::snapshot()): the worker waits for it, so
  // the GUI thread never blocks on the training thread.
  bool load_snapshot(std::future<ModelSnapshot> pending, const QString& tokenizer_path = {});

  // Completion: continues `prompt`. Chat (request.chat): `prompt` is the user's next message after
  // request.history, rendered in the chat format; the oldest turns are dropped when the context is too short.
  bool generate(const QString& prompt, const GenerationRequest& request);
  // Ends the running generation after the token being sampled (finished() says "stopped").
  void stop();
  // Attention maps of the loaded model on the first 64 tokens of `prompt`.
  bool compute_attention(const QString& prompt);
  // Moves generation to `device` (cpu, cuda, cuda:N), stopping a generation in progress: a loaded model is
  // rebuilt there from its weights (model_loaded() again, naming the device), and later loads go there.
  // A device that cannot be used emits failed() and leaves the model where it was.
  bool set_device(const QString& device);
  // The device models are loaded onto (the last one set_device() reached).
  QString device() const { return device_; }

  bool generating() const { return generating_; }
  bool has_model() const { return has_model_; }

 signals:
  void model_loaded(const QString& description);
  // One per generated token (the stop token included, with an empty piece). `piece` is the text it completes
  // (empty while the bytes of a character are incomplete); `candidates` the most likely tokens of the final
  // sampling stage with their probabilities.
  void token(int token_id, const QString& piece, const minimind::TokenCandidates& candidates);
  void finished(const QString& stop_reason, double tokens_per_s);
  void attention_maps(const minimind::AttentionMaps& maps);
  void failed(const QString& message);

 private:
  using Job = std::function<void()>;
  void enqueue(Job job);
  void worker_loop();
  void post(std::function<void()> on_gui_thread);  // queued to this object's (the GUI) thread
  void post_failed(const QString& message);
  bool refuse(const QString& message);  // emits failed, returns false
  // On the worker.
  void install(std::unique_ptr<MiniMindModel> model, const std::filesystem::path& tokenizer_path,
               const QString& source);
  void announce_model();  // model_loaded() for the model now installed
  void run_generation(const QString& prompt, const GenerationRequest& request);

  int threads_;
  QString device_;  // the GUI thread's view of where models live
  // Owned by the worker thread once it runs.
  std::unique_ptr<Backend> backend_;
  QString backend_device_;
  std::unique_ptr<MiniMindModel> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  QString model_source_;
  std::filesystem::path tokenizer_path_;
  int64_t model_step_ = 0;  // the snapshot's step, for the attention maps

  std::atomic<bool> has_model_{false};
  std::atomic<int> loads_queued_{0};
  std::atomic<bool> generating_{false};
  std::atomic<bool> stop_requested_{false};

  std::mutex jobs_mutex_;
  std::condition_variable jobs_changed_;
  std::deque<Job> jobs_;
  bool shutting_down_ = false;
  std::thread worker_;
};

}  // namespace minimind
