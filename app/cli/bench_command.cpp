// minimind bench: tokens/s, achieved GFLOP/s and peak memory of a training step (forward, backward, clipping,
// AdamW) at a given batch and sequence length, on random tokens.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/device_option.h"
#include "cli/memory_check.h"
#include "cli/model_options.h"
#include "cli/training_step.h"
#include "config/estimates.h"
#include "model/memory_plan.h"
#include "text/byte_size.h"

namespace minimind::cli {

namespace {
int64_t peak_resident_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}
}  // namespace

int bench_command(int argc, char** argv) {
  std::vector<Option> options = model_options();
  options.push_back({"batch_size", "N", "sequences per step (default 8)"});
  options.push_back({"seq_len", "N", "tokens per sequence (default 256)"});
  options.push_back({"steps", "N", "timed steps (default 5)"});
  options.push_back({"warmup", "N", "untimed steps first (default 1)"});
  options.push_back(device_option());
  options.push_back({"threads", "N", "CPU threads (default: all)"});
  options.push_back({"json", "", "print one JSON line instead of a table"});
  options.push_back(skip_memory_check_option());
  Arguments args("bench", options, argc, argv);
  if (args.help_requested()) {
    std::cout << "minimind bench: speed of a training step on random tokens\n\n" << args.usage();
    return 0;
  }
  const ModelConfig config = model_config_from(args);
  const int64_t batch_size = args.integer("batch_size", 8), seq_len = args.integer("seq_len", 256);
  const int64_t steps = args.integer("steps", 5), warmup = args.integer("warmup", 1);
  if (batch_size <= 0 || seq_len <= 0 || steps <= 0 || warmup < 0)
    throw UsageError("--batch_size, --seq_len and --steps must be positive, --warmup not negative");
  if (seq_len > config.max_position_embeddings)
    throw UsageError("--seq_len " + std::to_string(seq_len) + " exceeds max_position_embeddings");
  const std::unique_ptr<Backend> backend = backend_from(args);
  check_memory_or_refuse(
      args, named_by_flags(training_request(config, batch_size, seq_len, 0), "--batch_size", "--seq_len"));

  MiniMindModel model(config, *backend);
  model.init_weights(1);
  AdamW optimizer(model.layout(), *backend, DType::f32);

  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(config.vocab_size - 1));
  Batch batch{Tensor::empty({batch_size, seq_len}, DType::i32), Tensor::empty({batch_size, seq_len}, DType::i32), {}, {}};
  for (int32_t& id : batch.input_ids.span<int32_t>()) id = token(rng);
  for (int32_t& id : batch.targets.span<int32_t>()) id = token(rng);

  std::vector<double> seconds;
  double last_loss = 0;
  for (int64_t step = 0; step < warmup + steps; ++step) {
    const auto start = std::chrono::steady_clock::now();
    last_loss = training_step(model, optimizer, batch, 1e-4, 1.0, static_cast<uint64_t>(step)).loss.loss;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (step >= warmup) seconds.push_back(elapsed);
  }
  std::sort(seconds.begin(), seconds.end());
  const double step_s = seconds[seconds.size() / 2];  // median
  const double tokens_per_s = static_cast<double>(batch_size * seq_len) / step_s;
  const double gflops = training_flops_per_token(config, seq_len) * tokens_per_s / 1e9;
  const int64_t peak = peak_resident_bytes();
  const int used_threads = cpu_thread_count(args);
  if (args.flag("json")) {
    std::printf("{\"impl\": \"minimind-lab\", \"threads\": %d, \"batch_size\": %lld, \"seq_len\": %lld, "
                "\"step_s\": %.4f, \"tokens_per_s\": %.1f, \"gflops\": %.1f, \"peak_memory_bytes\": %lld, "
                "\"loss\": %.4f}\n",
                used_threads, (long long)batch_size, (long long)seq_len, step_s, tokens_per_s, gflops, (long long)peak,
                last_loss);
  } else {
    std::printf("training step, %lld x %lld tokens, %d threads, median of %lld steps\n", (long long)batch_size,
                (long long)seq_len, used_threads, (long long)steps);
    std::printf(
        "  step time     %10.3f s\n  tokens/s      %10.1f\n  GFLOP/s       %10.1f\n  peak memory   %14s\n",
        step_s, tokens_per_s, gflops, format_bytes(peak).c_str());
  }
  return 0;
}

}  // namespace minimind::cli
