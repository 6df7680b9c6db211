// Flags and loading shared by the generation commands.
#include "cli/generation_setup.h"

#include <csignal>
#include <filesystem>

#include "cli/device_option.h"
#include "cli/memory_check.h"
#include "config/resources.h"
#include "model/model_dir.h"
#include "model/precision_choice.h"

namespace minimind::cli {

namespace {
volatile std::sig_atomic_t interrupted = 0;
void on_interrupt(int) {
  interrupted = 1;
}
}  // namespace

bool interrupt_requested() {
  return interrupted != 0;
}
void clear_interrupt() {
  interrupted = 0;
}
InterruptGuard::InterruptGuard() : previous_(std::signal(SIGINT, on_interrupt)) {}
InterruptGuard::~InterruptGuard() {
  std::signal(SIGINT, previous_);
}

std::vector<Option> generation_option_list(int64_t default_max_new_tokens) {
  return {
      {"model", "DIR", "model directory (config.json + model.safetensors)"},
      {"tokenizer", "PATH",
       "tokenizer.json or a directory holding one (default: the model directory's, else the "
       "lab's default tokenizer)"},
      {"max_new_tokens", "N",
       "most tokens to generate per reply (default " + std::to_string(default_max_new_tokens) + ")"},
      {"temperature", "T", "softmax temperature, 0 = greedy (default 0.85, as MiniMind's eval)"},
      {"top_k", "K", "keep the K most likely tokens (default 0 = off)"},
      {"top_p", "P", "nucleus: keep the most likely tokens up to probability P (default 0.85)"},
      {"repetition_penalty", "R", "divide the logits of tokens already present by R (default 1 = off)"},
      {"greedy", "", "always take the most likely token"},
      {"seed", "N", "seed of the sampling (default 0)"},
      {"stop", "STRING", "also stop when the text contains STRING"},
      {"ignore_eos", "", "do not stop at <|endoftext|> or <|im_end|>"},
      device_option(),
      {"threads", "N", "CPU threads (default: all)"},
      skip_memory_check_option(),
  };
}

GenerationOptions generation_options_from(const Arguments& args, int64_t default_max_new_tokens) {
  GenerationOptions options;
  options.sampling.temperature = args.number("temperature", 0.85);
  options.sampling.top_k = args.integer("top_k", 0);
  options.sampling.top_p = args.number("top_p", 0.85);
  options.sampling.repetition_penalty = args.number("repetition_penalty", 1.0);
  options.sampling.greedy = args.flag("greedy");
  const int64_t seed = args.integer("seed", 0);
  if (seed < 0) throw UsageError("--seed must be >= 0, got " + std::to_string(seed));
  options.sampling.seed = static_cast<uint64_t>(seed);
  options.max_new_tokens = args.integer("max_new_tokens", default_max_new_tokens);
  if (options.max_new_tokens <= 0)
    throw UsageError("--max_new_tokens must be positive, got " + std::to_string(options.max_new_tokens));
  if (args.has("stop")) {
    if (args.text("stop").empty()) throw UsageError("--stop needs a non-empty string");
    options.stop_strings.push_back(args.text("stop"));
  }
  if (args.flag("ignore_eos")) options.stop_ids = std::vector<int32_t>{};
  try {
    options.sampling.validate();
  } catch (const std::invalid_argument& e) {
    std::string message = e.what();
    message.erase(0, message.find(": ") + 2);  // "sampling: top_p must be ..." -> "--top_p must be ..."
    throw UsageError("--" + message);
  }
  return options;
}

namespace {
std::filesystem::path tokenizer_path(const Arguments& args, const std::filesystem::path& model_dir) {
  std::filesystem::path path;
  if (args.has("tokenizer"))
    path = args.text("tokenizer");
  else if (std::filesystem::exists(model_dir / "tokenizer.json"))
    path = model_dir;
  else
    path = default_tokenizer_dir();
  if (std::filesystem::is_directory(path)) path /= "tokenizer.json";
  return path;
}
}  // namespace

LoadedGenerator::LoadedGenerator(const Arguments& args, const BeforeLoadingWeights& before_loading_weights)
    : backend(backend_from(args)) {
  const std::filesystem::path model_dir = args.required_text("model");
  tokenizer.emplace(Tokenizer::load(tokenizer_path(args, model_dir)));
  if (before_loading_weights) before_loading_weights(*tokenizer, load_config(model_dir / "config.json"));
  model = load_model(model_dir, *backend, default_precision(*backend));
  if (tokenizer->vocab_size() > model->config().vocab_size)
    throw std::runtime_error("the tokenizer has " + std::to_string(tokenizer->vocab_size()) +
                             " tokens but the model's vocabulary is " +
                             std::to_string(model->config().vocab_size) +
                             " (pass the model's own tokenizer with --tokenizer)");
  generator = std::make_unique<Generator>(*model, *tokenizer);
}

}  // namespace minimind::cli
