// minimind bench: tokens/s, achieved TFLOP/s and peak memory of a training step (forward, backward, the
// update decision, AdamW: core/train/training_step, as the trainer runs it) at a given batch and sequence
// length, on random tokens.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>

#include "cli/matmul_peak.h"
#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/device_option.h"
#include "cli/memory_check.h"
#include "cli/model_options.h"
#include "cli/precision_option.h"
#include "config/estimates.h"
#include "model/memory_plan.h"
#include "text/byte_size.h"
#include "train/training_step.h"

namespace minimind::cli {

namespace {
int64_t peak_resident_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

// Memory in use on the device by everyone (total - free), as the device reports it.
int64_t device_bytes_in_use(Backend& backend) {
  const DeviceInfo info = backend.device_info();
  return info.total_bytes - info.free_bytes;
}
}  // namespace

int bench_command(int argc, char** argv) {
  std::vector<Option> options = model_options();
  options.push_back({"batch_size", "N", "sequences per step (default 8)"});
  options.push_back({"seq_len", "N", "tokens per sequence (default 256)"});
  options.push_back({"steps", "N", "timed steps (default 5)"});
  options.push_back({"warmup", "N", "untimed steps first (default 1)"});
  options.push_back(device_option());
  options.push_back(precision_option());
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
  const Precision precision = precision_from(args, *backend);
  check_memory_or_refuse(args, named_by_flags(training_request(config, batch_size, seq_len, 0,
                                                               MemoryTarget{backend->device(), precision}),
                                              "--batch_size", "--seq_len"));
  const bool on_gpu = backend->device() == Device::cuda;
  const int64_t device_in_use_before = on_gpu ? device_bytes_in_use(*backend) : 0;

  MiniMindModel model(config, *backend, precision);
  model.init_weights(1);
  AdamW optimizer(model.layout(), *backend, precision.master());
  TrainingStep step_runner(model, optimizer);
  StepSettings settings;
  settings.learning_rate = 1e-4;
  settings.max_grad_norm = 1.0;

  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(config.vocab_size - 1));
  Batch batch{Tensor::empty({batch_size, seq_len}, DType::i32), Tensor::empty({batch_size, seq_len}, DType::i32), {}, {}};
  for (int32_t& id : batch.input_ids.span<int32_t>()) id = token(rng);
  for (int32_t& id : batch.targets.span<int32_t>()) id = token(rng);

  std::vector<double> seconds;
  double last_loss = 0;
  int64_t device_peak = 0;
  for (int64_t step = 0; step < warmup + steps; ++step) {
    const auto start = std::chrono::steady_clock::now();
    // finish() reads the step's result back, so the step has ended on the device when it returns.
    last_loss = step_runner.run(batch, static_cast<uint64_t>(step), settings).loss;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (step >= warmup) seconds.push_back(elapsed);
    // Every buffer of the step is planned up front, so its memory stands at the peak between steps.
    if (on_gpu) device_peak = std::max(device_peak, device_bytes_in_use(*backend));
  }
  std::sort(seconds.begin(), seconds.end());
  const double step_s = seconds[seconds.size() / 2];  // median
  const double tokens_per_s = static_cast<double>(batch_size * seq_len) / step_s;
  const double flops_per_s = training_flops_per_token(config, seq_len) * tokens_per_s;
  const int64_t peak = peak_resident_bytes();
  const int64_t planned =
      model.allocated_bytes() + optimizer.allocated_bytes() + step_runner.allocated_bytes();
  const int used_threads = cpu_thread_count(args);
  const std::string device = std::string(device_name(backend->device()));
  const std::string precision_text = precision_name(precision);
  // MFU against the device's measured matrix-product rate in the compute dtype, not a datasheet figure.
  const MatmulPeak matmul_peak = measure_matmul_peak(*backend, precision.compute);
  const double mfu = flops_per_s / matmul_peak.flops_per_s;
  if (args.flag("json")) {
    std::printf(
        "{\"impl\": \"minimind-lab\", \"device\": \"%s\", \"precision\": \"%s\", \"threads\": %d, "
        "\"batch_size\": %lld, \"seq_len\": %lld, \"step_s\": %.4f, \"tokens_per_s\": %.1f, "
        "\"gflops\": %.1f, \"tflops\": %.4f, \"mfu\": %.4f, \"matmul_peak_tflops\": %.2f, "
        "\"peak_memory_bytes\": %lld, "
        "\"planned_device_bytes\": %lld",
        device.c_str(), precision_text.c_str(), used_threads, (long long)batch_size, (long long)seq_len,
        step_s, tokens_per_s, flops_per_s / 1e9, flops_per_s / 1e12, mfu, matmul_peak.flops_per_s / 1e12,
        (long long)peak, (long long)planned);
    if (on_gpu)
      std::printf(", \"device_memory_in_use_bytes\": %lld, \"device_memory_added_bytes\": %lld",
                  (long long)device_peak, (long long)(device_peak - device_in_use_before));
    std::printf(", \"loss\": %.4f}\n", last_loss);
  } else {
    const std::string threads = on_gpu ? "" : ", " + std::to_string(used_threads) + " threads";
    std::printf("training step on %s (%s), %lld x %lld tokens, %s%s, median of %lld steps\n", device.c_str(),
                backend->device_info().name.c_str(), (long long)batch_size, (long long)seq_len,
                precision_text.c_str(), threads.c_str(), (long long)steps);
    std::printf(
        "  step time         %10.3f s\n  tokens/s          %10.1f\n  TFLOP/s           %10.3f\n"
        "  MFU               %10.3f   (of %.1f TFLOP/s measured: %lld^3 %s products)\n",
        step_s, tokens_per_s, flops_per_s / 1e12, mfu, matmul_peak.flops_per_s / 1e12,
        (long long)matmul_peak.size, std::string(dtype_name(precision.compute)).c_str());
    std::printf("  planned buffers   %14s\n", format_bytes(planned).c_str());
    if (on_gpu)
      std::printf(
          "  device memory     %14s   in use at the peak (total - free, every process); %s more than "
          "before the model\n",
          format_bytes(device_peak).c_str(), format_bytes(device_peak - device_in_use_before).c_str());
    std::printf("  peak host memory  %14s\n", format_bytes(peak).c_str());
  }
  return 0;
}

}  // namespace minimind::cli
