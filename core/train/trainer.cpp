// The training loop and its run directory.
#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "backend/backend_factory.h"
#include "config/estimates.h"
#include "data/batch_loader.h"
#include "infer/attention_probe.h"
#include "infer/generator.h"
#include "io/atomic_file.h"
#include "model/minimind_model.h"
#include "model/model_dir.h"
#include "model/precision_choice.h"
#include "model/rope_table.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"
#include "train/numerical_guard.h"
#include "train/out_of_memory_error.h"
#include "train/training_step.h"

namespace minimind {

namespace {

void write_json(const std::filesystem::path& path, const nlohmann::json& json) {
  const std::string text = json.dump(2) + "\n";
  write_file_atomically(path, std::span<const char>(text.data(), text.size()));
}

BatchLoaderOptions loader_options(const TrainConfig& c, uint64_t seed) {
  BatchLoaderOptions options;
  options.mode = c.packed ? BatchMode::packed : BatchMode::padded;
  options.batch_size = c.batch_size;
  options.seq_len = c.seq_len;
  options.pad_id = 0;
  options.separator_id = 0;  // <|endoftext|>
  options.seed = seed;
  return options;
}

// The dropout masks of each micro-step, from the run seed: a resumed run draws the same ones.
uint64_t micro_step_seed(uint64_t seed, int64_t step, int64_t micro) {
  return (seed * 0x9E3779B97F4A7C15ull) ^ (static_cast<uint64_t>(step) << 8) ^ static_cast<uint64_t>(micro);
}

// The token-weighted mean cross-entropy over the first `batches` evaluation batches (eval mode).
Evaluation evaluate_batches(MiniMindModel& model, const BatchLoader& loader, uint64_t batches) {
  double weighted = 0, scored = 0;
  for (uint64_t i = 0; i < batches; ++i) {
    const LossTerms terms = model.forward(loader.evaluation_batch(i), false);
    weighted += terms.cross_entropy * static_cast<double>(terms.scored_tokens);
    scored += static_cast<double>(terms.scored_tokens);
  }
  Evaluation result;
  result.tokens = static_cast<int64_t>(scored);
  result.loss = scored > 0 ? weighted / scored : std::nan("");
  result.perplexity = std::exp(result.loss);
  return result;
}

}  // namespace

struct Trainer::Impl {
  TrainConfig config;
  Backend& backend;
  EventStream& events;
  std::unique_ptr<MiniMindModel> model;
  std::unique_ptr<AdamW> optimizer;
  std::unique_ptr<TrainingStep> training_step;
  std::unique_ptr<BatchLoader> loader;
  std::unique_ptr<BatchLoader> validation;
  NumericalGuard guard;
  int64_t step = 0;  // optimizer steps done
  double best_validation_loss = std::numeric_limits<double>::infinity();
  int64_t best_step = -1;
  double flops_per_token = 0;
  int64_t total_steps = 0;
  std::function<void(int64_t, Tensor&)> gradient_hook;
  std::unique_ptr<Tokenizer> tokenizer;  // for the probes
  std::filesystem::path resumed_from;    // the checkpoint a resumed run started from
  std::vector<SkippedCheckpoint> skipped_checkpoints;  // newer ones a resume passed over, set aside
  std::vector<std::string> resume_notes;               // what a resume on another device changed

  std::atomic<bool> stop_requested{false};
  std::atomic<bool> pause_requested{false};
  // Guards the pause wait and the requests below: a request notifies pause_changed so a paused run serves it.
  std::mutex pause_mutex;
  std::condition_variable pause_changed;
  bool running = false;  // run() is going: snapshot requests will be served
  std::vector<std::promise<ModelSnapshot>> pending_snapshots;
  std::atomic<bool> snapshot_requested{false};  // the training thread's cheap check between micro-steps
  std::string probe_prompt;                     // under pause_mutex
  std::vector<std::string> log_failures;        // under pause_mutex: report_log_failure's, not yet checked
  std::atomic<bool> log_failure_reported{false};

  // What the training thread is doing, for the message of an error (an allocation failure has no text).
  const char* phase = "starting the run";
  int64_t phase_step = 0;                 // the optimizer step it belongs to, from 1
  std::string log_failure_being_checked;  // while the checkpoint after a log failure is written
  // The newest complete checkpoint of this run, or the one it resumed from.
  std::filesystem::path last_checkpoint;

  void enter(const char* what, int64_t at_step) {
    phase = what;
    phase_step = at_step;
  }

  Impl(const TrainConfig& c, Backend& b, EventStream& e)
      : config(c), backend(b), events(e), guard(guard_config(c)), probe_prompt(c.probe_prompt) {}

  static NumericalGuardConfig guard_config(const TrainConfig& c) {
    NumericalGuardConfig g;
    g.z_threshold = c.spike_z;
    g.max_consecutive_skips = c.max_consecutive_skips;
    return g;
  }

  // The optimizer and the step's buffers, once the model is there.
  void make_optimizer() {
    optimizer = std::make_unique<AdamW>(model->layout(), backend, model->precision().master(), config.adamw);
    training_step = std::make_unique<TrainingStep>(*model, *optimizer, config.accumulation_steps);
  }

  void open_data() {
    const std::filesystem::path train = config.data_dir / "train.shard";
    loader = std::make_unique<BatchLoader>(BatchLoader::open({train}, loader_options(config, config.seed)));
    const std::filesystem::path val = config.data_dir / "validation.shard";
    if (std::filesystem::exists(val)) {
      try {
        validation = std::make_unique<BatchLoader>(BatchLoader::open({val}, loader_options(config, config.seed)));
      } catch (const std::invalid_argument&) {
        validation.reset();  // an empty validation split: no validation
      }
    }
    const int64_t rows = static_cast<int64_t>(loader->rows_per_epoch());
    const int64_t steps_per_epoch = std::max<int64_t>(1, rows / (config.batch_size * config.accumulation_steps));
    total_steps = config.max_steps > 0 ? config.max_steps : steps_per_epoch * config.epochs;
    if (config.schedule.total_steps <= 0) config.schedule.total_steps = total_steps;
    if (static_cast<int64_t>(loader->vocab_size()) > model->config().vocab_size)
      throw std::invalid_argument("the shards' vocabulary (" + std::to_string(loader->vocab_size()) +
                                  ") is larger than the model's vocab_size (" +
                                  std::to_string(model->config().vocab_size) + ")");
    flops_per_token = training_flops_per_token(model->config(), config.seq_len);
  }

  double validate() {
    if (!validation) return std::nan("");
    const uint64_t batches = config.eval_batches > 0
                                 ? std::min<uint64_t>(config.eval_batches, validation->evaluation_batch_count())
                                 : validation->evaluation_batch_count();
    return evaluate_batches(*model, *validation, batches).loss;
  }

  int64_t last_saved_step = -1;

  // `position` is where the loader stands at the start of the next step to take (a pause or stop in the middle
  // of a step saves the step's start, so the resumed run takes the whole step again).
  void save(const LoaderState& position) {
    if (last_saved_step == step) return;  // a stop right after a scheduled save
    last_saved_step = step;
    TrainerState state;
    state.step = step;
    state.optimizer_steps = optimizer->steps();
    state.loader = position;
    state.schedule_step = step;
    state.epoch = static_cast<int64_t>(loader->epoch());
    state.numerical_guard = guard.to_json();
    if (best_step >= 0) {
      state.best_validation_loss = best_validation_loss;
      state.best_validation_step = best_step;
    }
    state.run_config = train_config_to_json(config);
    state.first_moment = optimizer->first_moment().buffer();
    state.second_moment = optimizer->second_moment().buffer();
    enter("writing a checkpoint", step);
    const std::filesystem::path path = write_checkpoint(config.run_dir, *model, state);
    last_checkpoint = path;
    prune_checkpoints(config.run_dir, static_cast<int>(std::max<int64_t>(1, config.keep_last)),
                      best_step >= 0 ? std::optional<int64_t>(best_step) : std::nullopt);
    events.publish(CheckpointWritten{step, path.string(), best_step == step});
  }

  void publish_rope_table() {
    RopeTable table;
    table.step = step;
    table.head_dim = model->config().head_dim();
    table.max_positions = model->config().max_position_embeddings;
    table.base_frequencies = rope_frequencies_unscaled(model->config(), DType::f64);
    table.frequencies = rope_frequencies(model->config(), DType::f64);
    events.publish(std::move(table));
  }

  // Attention maps and a sample continuation of the probe prompt, from a separate inference forward.
  void probe() {
    if (!tokenizer) return;
    std::string prompt;
    {
      std::lock_guard lock(pause_mutex);
      prompt = probe_prompt;
    }
    AttentionMaps maps = probe_attention(*model, *tokenizer, prompt, 64, step);
    if (maps.tokens.empty()) return;
    std::vector<int32_t> ids = tokenizer->encode(prompt);
    ids.resize(maps.tokens.size());  // the same tokens the maps show
    events.publish(std::move(maps));

    Generator generator(*model, *tokenizer);
    GenerationOptions options;
    options.max_new_tokens = config.sample_tokens;
    options.sampling.temperature = 0.8;
    options.sampling.top_k = 40;
    options.sampling.seed = static_cast<uint64_t>(step);
    const GenerationResult result = generator.generate({ids}, options);
    events.publish(SampleText{step, prompt, result.sequences.front().text});
  }

  // Serves every pending snapshot request with the current weights (on the training thread).
  void serve_snapshots() {
    std::vector<std::promise<ModelSnapshot>> pending;
    {
      std::lock_guard lock(pause_mutex);
      pending.swap(pending_snapshots);
      snapshot_requested = false;
    }
    if (pending.empty()) return;
    try {
      ModelSnapshot snapshot = take_snapshot(*model, step);
      snapshot.tokenizer = config.tokenizer;
      for (auto& promise : pending) promise.set_value(snapshot);
    } catch (...) {
      for (auto& promise : pending) promise.set_exception(std::current_exception());
    }
  }

  // After a log failure (report_log_failure), at a step boundary: a checkpoint shows whether the run can
  // still save itself. If it can, training goes on with a warning; if not, the checkpoint's error ends the
  // run.
  void check_saving_after_log_failure() {
    std::vector<std::string> failures;
    {
      std::lock_guard lock(pause_mutex);
      failures.swap(log_failures);
      log_failure_reported = false;
    }
    if (failures.empty()) return;
    std::string what;
    for (const std::string& failure : failures) what += (what.empty() ? "" : "; ") + failure;
    log_failure_being_checked = what;
    save(loader->state());
    log_failure_being_checked.clear();
    events.publish(Warning{step,
                           "the run's logs cannot be written (" + what +
                               "). A checkpoint can still be written (" + last_checkpoint.string() +
                               "), so training goes on; the events the log misses are lost.",
                           true});
  }

  // Says in the event stream that the run failed, before the error propagates: what failed, where, and what
  // is left to resume from.
  void report_failure(const std::string& error) noexcept {
    try {
      std::string message = "training failed at step " + std::to_string(phase_step) + " while " + phase;
      if (!log_failure_being_checked.empty())
        message += " to check that the run can still be saved after a log failure (" +
                   log_failure_being_checked + ")";
      message += ": " + error + ". ";
      message += last_checkpoint.empty() ? "No checkpoint of this run was written."
                                         : "The last complete checkpoint is " + last_checkpoint.string() +
                                               "; resume from it once the cause is fixed.";
      events.publish(RunFailed{phase_step, message, error, last_checkpoint.string()});
      events.publish(RunFinished{step, "failed: " + error});
    } catch (...) {
      // Out of memory even for the message: the error itself still propagates.
    }
  }

  // Marks the run as going or ended; at the end, pending requests get the final weights.
  void set_running(bool going) {
    if (!going) serve_snapshots();
    std::lock_guard lock(pause_mutex);
    running = going;
    // A request that slipped in between the last serve and now (cannot be served any more).
    for (auto& promise : pending_snapshots)
      promise.set_exception(std::make_exception_ptr(std::runtime_error("the training run ended before the snapshot was taken")));
    pending_snapshots.clear();
    snapshot_requested = false;
  }

  // Sleeps until resumed or stopped, waking to serve snapshot requests meanwhile.
  void wait_while_paused() {
    std::unique_lock lock(pause_mutex);
    for (;;) {
      pause_changed.wait(lock, [&] {
        return !pause_requested.load() || stop_requested.load() || !pending_snapshots.empty();
      });
      if (pending_snapshots.empty()) return;
      lock.unlock();
      serve_snapshots();
      lock.lock();
    }
  }
};

Trainer::Trainer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Trainer::~Trainer() = default;

Trainer::Trainer(const TrainConfig& config, const ModelConfig& model_config, Backend& backend, EventStream& events)
    : impl_(std::make_unique<Impl>(config, backend, events)) {
  Impl& s = *impl_;
  if (config.batch_size <= 0 || config.seq_len <= 0 || config.accumulation_steps <= 0)
    throw std::invalid_argument("batch_size, seq_len and accumulation_steps must be positive");
  const Precision precision = choose_precision(config.precision, backend);
  if (config.init_from) {
    s.model = load_model(*config.init_from, backend, precision);
  } else {
    s.model = std::make_unique<MiniMindModel>(model_config, backend, precision);
    s.model->init_weights(config.seed);
  }
  if (config.seq_len > s.model->config().max_position_embeddings)
    throw std::invalid_argument("seq_len " + std::to_string(config.seq_len) + " exceeds max_position_embeddings");
  s.make_optimizer();
  s.open_data();
  if (!config.tokenizer.empty()) s.tokenizer = std::make_unique<Tokenizer>(Tokenizer::load(config.tokenizer));
  std::filesystem::create_directories(config.run_dir);
  write_json(config.run_dir / "train_config.json", train_config_to_json(s.config));
  save_config(s.model->config(), config.run_dir / "config.json");
}

std::unique_ptr<Trainer> Trainer::resume(const std::filesystem::path& run_dir, Backend& backend, EventStream& events) {
  // The run's precision on this device: a run moves between devices (its checkpoints hold the master
  // weights), and "auto" means bf16 on a GPU, f32 on the CPU.
  std::vector<std::string> notes;
  const PrecisionForState precision_for = [&backend, &notes](const TrainerState& state) {
    const TrainConfig recorded = train_config_from_json(state.run_config);
    notes.clear();
    if (parse_device(recorded.device).kind != backend.device())
      notes.push_back("the run was trained on " + recorded.device + " and continues on " +
                      std::string(device_name(backend.device())));
    try {
      return choose_precision(recorded.precision, backend);
    } catch (const std::invalid_argument&) {
      notes.push_back("the run computed in " + recorded.precision + ", which " +
                      std::string(device_name(backend.device())) + " cannot: it continues in f32");
      return Precision::f32();
    }
  };
  ResumableCheckpoint resumable = read_latest_intact_checkpoint(run_dir, backend, precision_for);
  LoadedCheckpoint& checkpoint = resumable.checkpoint;
  TrainConfig config = train_config_from_json(checkpoint.state.run_config);
  config.run_dir = run_dir;
  auto impl = std::make_unique<Impl>(config, backend, events);
  Impl& s = *impl;
  s.resume_notes = std::move(notes);
  s.model = std::move(checkpoint.model);
  s.make_optimizer();
  backend.copy(checkpoint.state.first_moment, s.optimizer->first_moment().buffer());
  backend.copy(checkpoint.state.second_moment, s.optimizer->second_moment().buffer());
  s.optimizer->set_steps(checkpoint.state.optimizer_steps);
  s.open_data();
  if (!config.tokenizer.empty()) s.tokenizer = std::make_unique<Tokenizer>(Tokenizer::load(config.tokenizer));
  s.loader->restore(checkpoint.state.loader);
  s.guard = NumericalGuard::from_json(checkpoint.state.numerical_guard);
  s.step = checkpoint.state.step;
  if (checkpoint.state.best_validation_step) {
    s.best_validation_loss = *checkpoint.state.best_validation_loss;
    s.best_step = *checkpoint.state.best_validation_step;
  }
  s.resumed_from = checkpoint.directory;
  // Out of the way of pruning, which would count them among the newest; the run writes their steps again.
  for (SkippedCheckpoint& skipped : resumable.skipped) {
    const std::filesystem::path aside = set_aside_damaged_checkpoint(skipped.directory);
    skipped.problem += " (set aside as " + aside.filename().string() + ")";
  }
  s.skipped_checkpoints = std::move(resumable.skipped);
  return std::unique_ptr<Trainer>(new Trainer(std::move(impl)));
}

void Trainer::request_pause() { impl_->pause_requested = true; }
void Trainer::request_resume() {
  impl_->pause_requested = false;
  impl_->pause_changed.notify_all();
}
void Trainer::request_stop() {
  impl_->stop_requested = true;
  impl_->pause_changed.notify_all();
}
std::future<ModelSnapshot> Trainer::request_snapshot() {
  Impl& s = *impl_;
  std::promise<ModelSnapshot> promise;
  std::future<ModelSnapshot> future = promise.get_future();
  {
    std::lock_guard lock(s.pause_mutex);
    if (s.running) {
      s.pending_snapshots.push_back(std::move(promise));
      s.snapshot_requested = true;
    } else {
      promise.set_exception(std::make_exception_ptr(
          std::runtime_error("no snapshot: the training run is not running")));
    }
  }
  s.pause_changed.notify_all();
  return future;
}

void Trainer::set_probe_prompt(std::string prompt) {
  std::lock_guard lock(impl_->pause_mutex);
  impl_->probe_prompt = std::move(prompt);
}

void Trainer::set_gradient_hook(std::function<void(int64_t, Tensor&)> hook) { impl_->gradient_hook = std::move(hook); }
bool Trainer::paused() const { return impl_->pause_requested; }
const TrainConfig& Trainer::config() const { return impl_->config; }
int64_t Trainer::step() const { return impl_->step; }
int64_t Trainer::total_steps() const { return impl_->total_steps; }

void Trainer::report_log_failure(std::string message) {
  {
    std::lock_guard lock(impl_->pause_mutex);
    impl_->log_failures.push_back(std::move(message));
  }
  impl_->log_failure_reported = true;
}

TrainOutcome Trainer::run() {
  Impl& s = *impl_;
  try {
    return run_steps();
  } catch (const OutOfMemoryError& e) {
    s.report_failure(e.what());
    throw;
  } catch (const std::bad_alloc&) {
    const OutOfMemoryError error(s.phase, s.phase_step);
    s.report_failure(error.what());
    throw error;
  } catch (const std::exception& e) {
    s.report_failure(e.what());
    throw;
  } catch (...) {
    s.report_failure("an unknown error");
    throw;
  }
}

TrainOutcome Trainer::run_steps() {
  Impl& s = *impl_;
  s.set_running(true);
  // However run() ends (an exception included), pending snapshot requests are answered.
  struct EndOfRun {
    Impl& s;
    ~EndOfRun() { s.set_running(false); }
  } end_of_run{s};
  MiniMindModel& model = *s.model;
  TrainOutcome outcome;
  const auto start = std::chrono::steady_clock::now();
  const int64_t start_step = s.step;
  const int64_t tokens_per_step = s.config.batch_size * s.config.seq_len * s.config.accumulation_steps;
  outcome.reason = "finished";
  s.last_checkpoint = s.resumed_from;
  s.enter("starting the run", s.step + 1);
  for (const SkippedCheckpoint& skipped : s.skipped_checkpoints)
    s.events.publish(
        Warning{s.step, "skipped checkpoint " + skipped.directory.string() + ": " + skipped.problem});
  s.skipped_checkpoints.clear();  // said once
  if (!s.resumed_from.empty()) s.events.publish(Warning{s.step, "resumed from " + s.resumed_from.string()});
  for (const std::string& note : s.resume_notes) s.events.publish(Warning{s.step, note});
  s.resume_notes.clear();
  s.publish_rope_table();

  while (s.step < s.total_steps) {
    const auto step_start = std::chrono::steady_clock::now();
    const LoaderState step_start_state = s.loader->state();
    s.training_step->begin();
    bool stopped = false;
    for (int64_t micro = 0; micro < s.config.accumulation_steps; ++micro) {
      // The weights change only in the optimizer step, so every micro-step of a step sees the same ones.
      if (s.snapshot_requested) s.serve_snapshots();
      if (s.pause_requested) {
        s.save(step_start_state);  // a paused run can be closed and resumed later
        s.events.publish(Warning{s.step, "paused"});
        s.wait_while_paused();
        if (!s.stop_requested) s.events.publish(Warning{s.step, "resumed"});
      }
      if (s.stop_requested) {
        stopped = true;
        break;
      }
      s.enter("loading a batch", s.step + 1);
      const Batch batch = s.loader->next();
      s.enter("running the forward and backward passes", s.step + 1);
      s.training_step->micro_step(batch, micro_step_seed(s.config.seed, s.step, micro));
    }
    if (stopped) {
      // The micro-steps of the unfinished step are dropped: the loader goes back to the step's start so the
      // resumed run sees them again.
      s.loader->restore(step_start_state);
      outcome.reason = "stopped";
      break;
    }
    s.enter("inspecting the gradients", s.step + 1);
    if (s.gradient_hook) s.gradient_hook(s.step, model.gradients().buffer());
    s.enter("judging the step and taking the optimizer step", s.step + 1);
    // The device judges the step against the guard's limits and applies or skips the update; the guard then
    // records its verdict.
    const GuardLimits limits = s.guard.limits();
    const double lr = learning_rate_at(s.config.schedule, s.step);
    const StepOutcome result =
        s.training_step->finish({lr, s.config.grad_clip, limits.loss, limits.grad_norm});
    const double loss = result.loss, aux = result.aux_loss, grad_norm = result.grad_norm;
    const GuardVerdict verdict = s.guard.record(loss, grad_norm, result.applied);
    if (verdict.action == GuardVerdict::stop) {
      s.events.publish(SkippedStep{s.step, verdict.reason, s.guard.consecutive_skips()});
      outcome.reason = verdict.reason;
      break;
    }
    if (verdict.action == GuardVerdict::skip)
      s.events.publish(SkippedStep{s.step, verdict.reason, s.guard.consecutive_skips()});
    ++s.step;
    outcome.last_loss = loss;
    s.enter("publishing the step's metrics", s.step);

    const auto now = std::chrono::steady_clock::now();
    const double step_s = std::chrono::duration<double>(now - step_start).count();
    const double elapsed = std::chrono::duration<double>(now - start).count();
    StepMetrics metrics;
    metrics.step = s.step;
    metrics.epoch = static_cast<int64_t>(s.loader->epoch());
    metrics.loss = loss;
    metrics.aux_loss = aux;
    metrics.learning_rate = lr;
    metrics.grad_norm = grad_norm;
    metrics.tokens_per_s = static_cast<double>(tokens_per_step) / step_s;
    metrics.flops_per_s = metrics.tokens_per_s * s.flops_per_token;
    metrics.mfu = std::nan("");
    metrics.elapsed_s = elapsed;
    metrics.eta_s = elapsed / static_cast<double>(s.step - start_step) * static_cast<double>(s.total_steps - s.step);
    metrics.tokens_seen = s.step * tokens_per_step;
    // Every buffer of the run on its device: weights (master and compute copy), gradients, RoPE tables, the
    // training and probe plans, the AdamW moments and the step's scalars.
    metrics.memory_bytes =
        model.allocated_bytes() + s.optimizer->allocated_bytes() + s.training_step->allocated_bytes();
    if (s.config.log_every > 0 && (s.step % s.config.log_every == 0 || s.step == s.total_steps))
      s.events.publish(metrics);
    if (model.config().use_moe) s.events.publish(MoeLoad{s.step, model.expert_load().fraction});

    const bool last = s.step == s.total_steps;
    if ((s.config.eval_every > 0 && s.step % s.config.eval_every == 0) || last) {
      s.enter("validating", s.step);
      const double val = s.validate();
      if (!std::isnan(val)) {
        s.events.publish(ValidationResult{s.step, val, std::exp(val)});
        if (val < s.best_validation_loss) {
          s.best_validation_loss = val;
          s.best_step = s.step;
        }
      }
    }
    if (s.config.sample_every > 0 && (s.step % s.config.sample_every == 0 || last)) {
      s.enter("running the probes (attention maps, sample text)", s.step);
      s.probe();
    }
    if ((s.config.save_every > 0 && s.step % s.config.save_every == 0) || last) s.save(s.loader->state());
    if (s.log_failure_reported) s.check_saving_after_log_failure();
  }
  if (outcome.reason != "finished") s.save(s.loader->state());
  if (s.log_failure_reported) s.check_saving_after_log_failure();
  outcome.steps = s.step;
  outcome.last_checkpoint = s.last_checkpoint;
  outcome.best_validation_loss = s.best_validation_loss;
  s.events.publish(RunFinished{s.step, outcome.reason});
  return outcome;
}

Evaluation evaluate_model(const std::filesystem::path& model_dir, const std::filesystem::path& shard, int64_t batch_size,
                          int64_t seq_len, bool packed, Backend& backend) {
  auto model = load_model(model_dir, backend, default_precision(backend));
  TrainConfig c;
  c.batch_size = batch_size;
  c.seq_len = seq_len;
  c.packed = packed;
  BatchLoader loader = BatchLoader::open({shard}, loader_options(c, 0));
  if (static_cast<int64_t>(loader.vocab_size()) > model->config().vocab_size)
    throw std::invalid_argument(shard.string() + ": its vocabulary (" + std::to_string(loader.vocab_size()) +
                                ") is larger than the model's (" + std::to_string(model->config().vocab_size) + ")");
  return evaluate_batches(*model, loader, loader.evaluation_batch_count());
}

}  // namespace minimind
