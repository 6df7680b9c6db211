// minimind train | resume | eval: training runs from the command line, driven through the same core API and
// event stream as the lab.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <stop_token>
#include <thread>

#include "backend/backend_factory.h"
#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/device_option.h"
#include "cli/memory_check.h"
#include "cli/model_options.h"
#include "cli/progress_bar.h"
#include "cli/tokenizer_location.h"
#include "train/event_stream.h"
#include "train/run_config.h"
#include "train/run_logs.h"
#include "train/trainer.h"

namespace minimind::cli {

namespace {

std::atomic<bool> interrupted{false};
extern "C" void on_interrupt(int) { interrupted = true; }

std::vector<Option> train_options() {
  std::vector<Option> options = model_options();
  const std::vector<Option> mine = {
      {"data_dir", "DIR",
       "prepared shards (train.shard, validation.shard) from minimind prepare (default: the run config's)"},
      {"out_dir", "DIR", "the run directory: checkpoints, metrics, config (default: the run config's)"},
      {"resume", "", "continue the run in --out_dir from its latest checkpoint (same as minimind resume)"},
      {"from", "DIR", "start from this model directory instead of from scratch"},
      {"mode", "MODE", "pretrain (default) or sft"},
      {"batch_size", "N", "sequences per micro-batch (default 32)"},
      {"max_seq_len", "N", "tokens per sequence (default 512)"},
      {"accumulation_steps", "N", "micro-batches per optimizer step (default 1)"},
      {"epochs", "N", "passes over the data (default 1)"},
      {"max_steps", "N", "stop after this many optimizer steps (default: the epochs)"},
      {"learning_rate", "X", "peak learning rate (default 5e-4)"},
      {"min_learning_rate", "X", "cosine floor (default learning_rate / 10)"},
      {"schedule", "KIND", "minimind (default), cosine, constant, step or exponential"},
      {"warmup_steps", "N", "linear warm-up (cosine; default 0)"},
      {"weight_decay", "X", "AdamW decoupled weight decay (default 0.01)"},
      {"decay", "GROUPS", "all (default, as MiniMind) or matrices"},
      {"grad_clip", "X", "global gradient-norm clip (default 1.0; 0 disables)"},
      {"eval_every", "N", "validation every N steps (default 100)"},
      {"save_every", "N", "checkpoint every N steps (default 500)"},
      {"keep_last", "N", "checkpoints kept besides the best (default 3)"},
      {"padded", "", "one document per row, padded (default: packed)"},
      {"seed", "N", "initialisation, shuffling and dropout seed (default 42)"},
      device_option("cpu; with --resume, the run's"),
      {"precision", "NAME",
       "auto (default: bf16 compute with f32 master weights on a GPU, f32 on the CPU), f32 or bf16; a "
       "resumed "
       "run keeps its own"},
      {"threads", "N", "CPU threads (default: all)"},
      {"tokenizer", "PATH", "tokenizer.json or its directory, for the probes (default: the lab's)"},
      {"sample_every", "N",
       "every N steps: attention maps and a sample from the probe prompt (default 0: off)"},
      {"probe_prompt", "TEXT", "the probe prompt (default <|im_start|>)"},
      skip_memory_check_option(),
  };
  options.insert(options.end(), mine.begin(), mine.end());
  return options;
}

// Prints the run's progress from the event stream: a bar with loss, tokens/s and ETA on a terminal, plain
// lines otherwise; validation, checkpoints, warnings, skipped steps and a failure as lines of their own.
class ConsoleSink {
 public:
  explicit ConsoleSink(int64_t total_steps) : bar_("train"), total_steps_(total_steps) {}
  void write(const Event& event) {
    if (const auto* m = std::get_if<StepMetrics>(&event)) {
      char detail[160];
      std::snprintf(detail, sizeof detail, "step %lld/%lld  loss %.4f  lr %.2e  grad %.2f  %.0f tok/s",
                    (long long)m->step, (long long)total_steps_, m->loss, m->learning_rate, m->grad_norm,
                    m->tokens_per_s);
      bar_.update(m->step, total_steps_, detail);
    } else if (const auto* v = std::get_if<ValidationResult>(&event)) {
      std::fprintf(stderr, "\nvalidation at step %lld: loss %.4f, perplexity %.2f\n", (long long)v->step, v->loss,
                   v->perplexity);
    } else if (const auto* c = std::get_if<CheckpointWritten>(&event)) {
      std::fprintf(stderr, "\ncheckpoint %s%s\n", c->path.c_str(), c->is_best ? " (best so far)" : "");
    } else if (const auto* w = std::get_if<Warning>(&event)) {
      std::fprintf(stderr, "\nwarning at step %lld: %s\n", (long long)w->step, w->message.c_str());
    } else if (const auto* f = std::get_if<RunFailed>(&event)) {
      std::fprintf(stderr, "\nerror at step %lld: %s\n", (long long)f->step, f->message.c_str());
    } else if (const auto* t = std::get_if<SampleText>(&event)) {
      std::fprintf(stderr, "\nsample at step %lld: %s%s\n", (long long)t->step, t->prompt.c_str(), t->text.c_str());
    } else if (const auto* k = std::get_if<SkippedStep>(&event)) {
      std::fprintf(stderr, "\nskipped step %lld (%lld in a row): %s\n", (long long)k->step, (long long)k->consecutive,
                   k->reason.c_str());
    }
  }

 private:
  ProgressBar bar_;
  int64_t total_steps_;
};

// The run directory's log files and the console, subscribed to the stream for the run's lifetime. A log that
// cannot be written is reported to the trainer, which checks that it can still write checkpoints.
struct RunOutput {
  RunOutput(const std::filesystem::path& run_dir, std::optional<int64_t> resume_step, EventStream& events,
            Trainer& trainer)
      : logs(run_dir, resume_step, events,
             [&trainer](const std::string& message) { trainer.report_log_failure(message); }),
        console(trainer.total_steps()) {
    events.subscribe([this](const Event& e) { console.write(e); });
  }
  RunLogs logs;
  ConsoleSink console;
};

// Runs the trainer with Ctrl-C / SIGTERM asking it to stop (with a checkpoint). However run() ends, an error
// included, the stream is drained and closed before this returns or rethrows: the console and the log files
// have every event, the trainer's failure warning among them, when main() prints the error.
int run_trainer(Trainer& trainer, EventStream& events, const RunOutput& output) {
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  struct CloseStream {
    EventStream& events;
    ~CloseStream() { events.close(); }
  } close_stream{events};
  // Declared after close_stream, so it is stopped and joined first, whichever way this function is left.
  std::jthread watcher([&trainer](std::stop_token stop) {
    while (!stop.stop_requested()) {
      if (interrupted) {
        std::fprintf(stderr, "\nstopping: finishing the micro-step and writing a checkpoint...\n");
        trainer.request_stop();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  const TrainOutcome outcome = trainer.run();
  watcher.request_stop();
  watcher.join();
  events.close();
  // A log failure the run did not see any more (while the last events were written) is still told.
  if (const int64_t lost = output.logs.failed_writes(); lost > 0)
    std::fprintf(stderr, "warning: %lld event(s) could not be written to the run's logs; first error: %s\n",
                 (long long)lost, output.logs.failures().front().c_str());
  std::printf("%s after %lld steps; last loss %.4f; best validation loss %.4f\n", outcome.reason.c_str(),
              (long long)outcome.steps, outcome.last_loss, outcome.best_validation_loss);
  return outcome.reason == "finished" || outcome.reason == "stopped" ? 0 : 1;
}

void write_command_line(const std::filesystem::path& run_dir, const char* name, int argc, char** argv) {
  std::ofstream out(run_dir / "command.txt", std::ios::app);
  out << "minimind " << name;
  for (int i = 0; i < argc; ++i) out << " " << argv[i];
  out << "\n";
}

// The settings before the flags: without a run config, the CLI's defaults (MiniMind's schedule, its floor a
// tenth of the rate, as long as the run).
TrainConfig default_train_config() {
  TrainConfig c;
  c.schedule.kind = ScheduleKind::minimind;
  c.schedule.learning_rate = 5e-4;
  c.schedule.min_learning_rate = c.schedule.learning_rate / 10;
  c.schedule.total_steps = 0;  // from the data and epochs
  return c;
}

// The flags over `base` (the defaults, or a run config's "train" when `base_from_file`).
TrainConfig train_config_from(const Arguments& args, TrainConfig c, bool base_from_file) {
  if (args.has("data_dir") || c.data_dir.empty()) c.data_dir = args.required_text("data_dir");
  c.data_dir = std::filesystem::absolute(c.data_dir);
  if (args.has("out_dir") || c.run_dir.empty()) c.run_dir = args.required_text("out_dir");
  if (args.has("from")) c.init_from = std::filesystem::absolute(args.text("from"));
  c.mode = args.text("mode", c.mode);
  if (c.mode != "pretrain" && c.mode != "sft") throw UsageError("--mode must be pretrain or sft");
  c.batch_size = args.integer("batch_size", c.batch_size);
  c.seq_len = args.integer("max_seq_len", c.seq_len);
  c.accumulation_steps = args.integer("accumulation_steps", c.accumulation_steps);
  c.epochs = args.integer("epochs", c.epochs);
  c.max_steps = args.integer("max_steps", c.max_steps);
  // Fine-tuning defaults to one conversation per row; a run config says for itself.
  if (args.flag("padded"))
    c.packed = false;
  else if (!base_from_file)
    c.packed = c.mode == "pretrain";
  if (args.has("schedule")) c.schedule.kind = parse_schedule_kind(args.text("schedule"));
  c.schedule.learning_rate = args.number("learning_rate", c.schedule.learning_rate);
  // A new rate without a new floor keeps the floor at a tenth of it; a run config's floor stays otherwise.
  if (args.has("min_learning_rate") || args.has("learning_rate") || !base_from_file)
    c.schedule.min_learning_rate = args.number("min_learning_rate", c.schedule.learning_rate / 10);
  c.schedule.warmup_steps = args.integer("warmup_steps", c.schedule.warmup_steps);
  c.adamw.weight_decay = args.number("weight_decay", c.adamw.weight_decay);
  if (args.has("decay")) {
    const std::string decay = args.text("decay");
    if (decay != "all" && decay != "matrices") throw UsageError("--decay must be all or matrices");
    c.adamw.decay = decay == "all" ? DecayGroups::all : DecayGroups::matrices;
  }
  c.grad_clip = args.number("grad_clip", c.grad_clip);
  c.eval_every = args.integer("eval_every", c.eval_every);
  c.save_every = args.integer("save_every", c.save_every);
  c.keep_last = args.integer("keep_last", c.keep_last);
  c.seed = static_cast<uint64_t>(args.integer("seed", static_cast<int64_t>(c.seed)));
  c.device = args.text("device", c.device);
  c.precision = args.text("precision", c.precision);
  c.threads = static_cast<int>(args.integer("threads", c.threads));
  c.sample_every = args.integer("sample_every", c.sample_every);
  c.probe_prompt = args.text("probe_prompt", c.probe_prompt);
  if (args.has("tokenizer") || c.tokenizer.empty()) c.tokenizer = tokenizer_json_path(args);
  c.tokenizer = std::filesystem::absolute(c.tokenizer);
  return c;
}

// The training rules, with the flag that sets each field where it has one.
void check_train_config(const TrainConfig& config, const ModelConfig& model) {
  const std::vector<ConfigIssue> issues = validate(config, model);
  if (issues.empty()) return;
  std::string text = "invalid training settings:";
  for (const ConfigIssue& issue : issues)
    text += "\n  " + (issue.field == "seq_len" ? std::string("max_seq_len") : issue.field) + ": " + issue.rule;
  throw UsageError(text);
}

// The device a run was trained on, as its train_config.json records it; cpu for a directory without one (the
// resume then says what is missing).
std::string recorded_device(const std::filesystem::path& run_dir) {
  const std::filesystem::path path = run_dir / "train_config.json";
  return std::filesystem::exists(path) ? load_train_config(path).device : std::string("cpu");
}

// Continues the run in `run_dir` (minimind resume, minimind train --resume) on --device, else the run's own.
int resume_run(const Arguments& args, int argc, char** argv) {
  const std::filesystem::path run_dir = args.required_text("out_dir");
  const std::unique_ptr<Backend> backend = backend_from(args, recorded_device(run_dir));
  const std::optional<TrainingPlan> plan = check_resumed_memory(args, run_dir);
  try {
    EventStream events;
    auto trainer = Trainer::resume(run_dir, *backend, events);
    write_command_line(run_dir, "resume", argc, argv);
    RunOutput output(run_dir, trainer->step(), events, *trainer);
    return run_trainer(*trainer, events, output);
  } catch (const DeviceOutOfMemory& error) {
    throw_with_memory_advice(error, plan);  // the trainer and its buffers are gone by now
  }
}

}  // namespace

int train_command(int argc, char** argv) {
  Arguments args("train", train_options(), argc, argv);
  if (args.help_requested()) {
    std::cout << "minimind train: pretrain or fine-tune a model on prepared shards\n\n"
                 "--config takes a model config.json or a run config saved by the lab ({\"model\": ..., \"train\": "
                 "...}).\nA run config's training settings replace the defaults below, and the flags given "
                 "override them;\nits data_dir and run_dir stand in for --data_dir and --out_dir when those are "
                 "not given.\n\n"
              << args.usage();
    return 0;
  }
  if (args.flag("resume")) return resume_run(args, argc, argv);
  const std::optional<TrainConfig> from_file =
      args.has("config") ? read_config_file(args.text("config")).train : std::nullopt;
  const TrainConfig config = train_config_from(args, from_file.value_or(default_train_config()), from_file.has_value());
  const ModelConfig model_config = model_config_from(args);
  check_train_config(config, model_config);
  const std::unique_ptr<Backend> backend = make_backend(config.device, config.threads);
  if (std::filesystem::exists(config.run_dir / "checkpoints") && !std::filesystem::is_empty(config.run_dir / "checkpoints"))
    throw UsageError(config.run_dir.string() + " already holds checkpoints: continue it with minimind resume --out_dir " +
                     config.run_dir.string() + ", or choose another --out_dir");
  const std::optional<TrainingPlan> plan = check_training_memory(args, config, model_config);
  try {
    EventStream events;
    Trainer trainer(config, model_config, *backend, events);
    write_command_line(config.run_dir, "train", argc, argv);
    RunOutput output(config.run_dir, std::nullopt, events, trainer);
    return run_trainer(trainer, events, output);
  } catch (const DeviceOutOfMemory& error) {
    throw_with_memory_advice(error, plan);  // the trainer and its buffers are gone by now
  }
}

int resume_command(int argc, char** argv) {
  Arguments args("resume",
                 {{"out_dir", "DIR", "the run directory to continue"},
                  device_option("the run's"),
                  {"threads", "N", "CPU threads"},
                  skip_memory_check_option()},
                 argc, argv);
  if (args.help_requested()) {
    std::cout << "minimind resume: continue a run from its latest complete checkpoint\n\n" << args.usage();
    return 0;
  }
  return resume_run(args, argc, argv);
}

int eval_command(int argc, char** argv) {
  Arguments args("eval",
                 {{"model", "DIR", "model directory"},
                  {"data", "PATH", "a shard (or a prepared directory: its validation.shard)"},
                  {"batch_size", "N", "sequences per batch (default 16)"},
                  {"max_seq_len", "N", "tokens per sequence (default 512)"},
                  {"padded", "", "one document per row (default: packed)"},
                  device_option(),
                  {"threads", "N", "CPU threads"},
                  skip_memory_check_option()},
                 argc, argv);
  if (args.help_requested()) {
    std::cout << "minimind eval: loss and perplexity of a model on a dataset\n\n" << args.usage();
    return 0;
  }
  std::filesystem::path data = args.required_text("data");
  if (std::filesystem::is_directory(data)) data /= "validation.shard";
  const std::unique_ptr<Backend> backend = backend_from(args);
  check_evaluation_memory(args, args.required_text("model"), args.integer("batch_size", 16),
                          args.integer("max_seq_len", 512));
  const Evaluation e = evaluate_model(args.required_text("model"), data, args.integer("batch_size", 16),
                                      args.integer("max_seq_len", 512), !args.flag("padded"), *backend);
  std::printf("loss %.4f  perplexity %.3f  over %lld tokens\n", e.loss, e.perplexity, (long long)e.tokens);
  return 0;
}

}  // namespace minimind::cli
