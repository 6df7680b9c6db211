// minimind demo: trains the tiny preset for a few steps on the built-in sample and prints the loss falling.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <random>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/demo_sample.h"
#include "cli/device_option.h"
#include "cli/model_options.h"
#include "cli/precision_option.h"
#include "train/training_step.h"

namespace minimind::cli {

int demo_command(int argc, char** argv) {
  std::vector<Option> options = model_options();
  options.push_back({"steps", "N", "optimisation steps (default 60)"});
  options.push_back({"batch_size", "N", "sequences per step (default 8)"});
  options.push_back({"seq_len", "N", "bytes per sequence (default 128)"});
  options.push_back({"learning_rate", "X", "AdamW learning rate (default 2e-3)"});
  options.push_back(device_option());
  options.push_back(precision_option());
  options.push_back({"threads", "N", "CPU threads (default: all)"});
  options.push_back({"seed", "N", "initialisation and sampling seed (default 0)"});
  Arguments args("demo", options, argc, argv);
  if (args.help_requested()) {
    std::cout << "minimind demo: train the tiny preset on a built-in sample, byte by byte\n\n" << args.usage();
    return 0;
  }
  const ModelConfig config = model_config_from(args);
  const int64_t steps = args.integer("steps", 60), batch_size = args.integer("batch_size", 8);
  const int64_t seq_len = args.integer("seq_len", 128);
  const double learning_rate = args.number("learning_rate", 2e-3);
  const auto seed = static_cast<uint64_t>(args.integer("seed", 0));
  const int64_t text_bytes = static_cast<int64_t>(std::strlen(kDemoSample));
  if (steps <= 0 || batch_size <= 0 || seq_len <= 0 || seq_len + 1 >= text_bytes)
    throw UsageError("--steps and --batch_size must be positive, --seq_len positive and below " +
                     std::to_string(text_bytes - 1));
  if (config.vocab_size < 256) throw UsageError("the demo feeds raw bytes: vocab_size must be at least 256");

  const std::unique_ptr<Backend> backend = backend_from(args);
  const Precision precision = precision_from(args, *backend);
  MiniMindModel model(config, *backend, precision);
  model.init_weights(seed);
  AdamW optimizer(model.layout(), *backend, precision.master());
  TrainingStep training_step(model, optimizer);
  StepSettings settings;
  settings.learning_rate = learning_rate;
  settings.max_grad_norm = 1.0;
  std::printf("demo: %.2f M parameters, %lld x %lld bytes per step, loss starts near ln(vocab) = %.2f\n",
              model.layout().total() / 1e6, (long long)batch_size, (long long)seq_len,
              std::log(static_cast<double>(config.vocab_size)));

  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> start(0, text_bytes - seq_len - 1);
  Batch batch{Tensor::empty({batch_size, seq_len}, DType::i32), Tensor::empty({batch_size, seq_len}, DType::i32), {}, {}};
  const auto begin = std::chrono::steady_clock::now();
  for (int64_t step = 1; step <= steps; ++step) {
    for (int64_t b = 0; b < batch_size; ++b) {
      const int64_t offset = start(rng);
      for (int64_t t = 0; t < seq_len; ++t) {
        batch.input_ids.data<int32_t>()[b * seq_len + t] = static_cast<unsigned char>(kDemoSample[offset + t]);
        batch.targets.data<int32_t>()[b * seq_len + t] = static_cast<unsigned char>(kDemoSample[offset + t + 1]);
      }
    }
    const StepOutcome outcome = training_step.run(batch, seed + static_cast<uint64_t>(step), settings);
    if (step == 1 || step % 5 == 0 || step == steps) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
      std::printf("step %4lld  loss %7.4f  grad norm %7.3f  %6.1f s\n", (long long)step, outcome.loss,
                  outcome.grad_norm, elapsed);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace minimind::cli
