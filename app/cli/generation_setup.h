// What minimind generate and minimind chat share: the sampling flags, and loading a model directory with its
// tokenizer into a generator.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "backend/backend.h"
#include "cli/arguments.h"
#include "infer/generator.h"

namespace minimind::cli {

// --model, --tokenizer, --device, --threads and the sampling flags.
std::vector<Option> generation_option_list(int64_t default_max_new_tokens);
GenerationOptions generation_options_from(const Arguments& args, int64_t default_max_new_tokens);

// Called with the tokenizer and the model directory's config before the weights are loaded: the memory
// preflight runs there.
using BeforeLoadingWeights = std::function<void(const Tokenizer& tokenizer, const ModelConfig& config)>;

// The model of --model on the device of --device, its tokenizer (--tokenizer, else the model directory's
// tokenizer.json, else the lab's default tokenizer) and a generator over both.
struct LoadedGenerator {
  explicit LoadedGenerator(const Arguments& args, const BeforeLoadingWeights& before_loading_weights = {});
  std::unique_ptr<Backend> backend;
  std::unique_ptr<MiniMindModel> model;
  std::optional<Tokenizer> tokenizer;
  std::unique_ptr<Generator> generator;
};

// Set by Ctrl-C while generating: the token callbacks return false so the reply ends cleanly.
bool interrupt_requested();
void clear_interrupt();
// Installs the SIGINT handler for as long as it lives.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  void (*previous_)(int);
};

}  // namespace minimind::cli
