// minimind generate: continue one prompt or a batch of prompts with a model directory, streaming the text.

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/device_option.h"
#include "cli/generation_setup.h"
#include "cli/memory_check.h"
#include "model/memory_plan.h"
#include "text/chat_message.h"
#include "tokenizer/chat_format.h"

namespace minimind::cli {

namespace {

std::vector<std::string> read_prompts_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("--prompts_file: cannot open '" + path + "'");
  std::vector<std::string> prompts;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) prompts.push_back(line);
  }
  if (prompts.empty()) throw UsageError("--prompts_file: '" + path + "' holds no prompt (one per line)");
  return prompts;
}

// The prompts as ids: each --prompts_file line or the --prompt (wrapped in the chat format with --chat), or
// the --prompt_ids as given, checked against the vocabulary.
std::vector<std::vector<int32_t>> encode_prompts(const Arguments& args, const std::vector<std::string>& texts,
                                                 const Tokenizer& tokenizer, int64_t vocab) {
  std::vector<std::vector<int32_t>> prompts;
  for (const std::string& text : texts) {
    if (args.flag("chat")) {
      std::vector<ChatMessage> messages;
      if (args.has("system")) messages.push_back({"system", args.text("system")});
      messages.push_back({"user", text});
      prompts.push_back(encode_chat(tokenizer, messages, /*add_generation_prompt=*/true).ids);
    } else if (args.has("prompt_ids")) {
      std::vector<int32_t> ids;
      for (int64_t id : parse_integer_list(args.text("prompt_ids"), "--prompt_ids")) {
        if (id < 0 || id >= vocab)
          throw UsageError("--prompt_ids: id " + std::to_string(id) + " is outside the vocabulary [0, " +
                           std::to_string(vocab) + ")");
        ids.push_back(static_cast<int32_t>(id));
      }
      prompts.push_back(std::move(ids));
    } else {
      prompts.push_back(tokenizer.encode(text));
      if (prompts.back().empty()) throw UsageError("--prompt: the prompt is empty");
    }
  }
  return prompts;
}

// The preflight of the whole batch: the cache for the longest prompt and --max_new_tokens, the prefill.
void check_generation_memory(const Arguments& args, const ModelConfig& config,
                             const std::vector<std::vector<int32_t>>& prompts, int64_t max_new_tokens) {
  int64_t longest = 0;
  for (const auto& prompt : prompts)
    longest = std::max<int64_t>(longest, static_cast<int64_t>(prompt.size()));
  if (longest < 1 || longest > config.max_position_embeddings) return;  // the generator refuses it
  MemoryRequest request =
      generation_request(config, static_cast<int64_t>(prompts.size()), longest, max_new_tokens);
  request.batch_name = args.has("prompts_file") ? "batch of --prompts_file lines" : "batch of prompts";
  request.length_name = "--max_new_tokens";
  check_memory_or_refuse(args, request);
}

}  // namespace

int generate_command(int argc, char** argv) {
  constexpr int64_t kDefaultMaxNewTokens = 256;
  std::vector<Option> options = generation_option_list(kDefaultMaxNewTokens);
  options.insert(
      options.begin() + 2,
      {{"prompt", "TEXT", "the prompt to continue"},
       {"prompt_ids", "LIST", "the prompt as comma-separated token ids"},
       {"prompts_file", "FILE", "a batch of prompts, one per line (generated together, printed in order)"},
       {"chat", "", "wrap each prompt as a user turn in the chat format (for SFT models)"},
       {"system", "TEXT", "with --chat: a system turn before the user's"}});
  options.push_back({"benchmark", "", "print prefill and decode speed as one JSON line instead of the text"});
  Arguments args("generate", options, argc, argv);
  if (args.help_requested()) {
    std::cout
        << "minimind generate: continue prompts with a model, token by token through the KV cache\n\n"
        << "One prompt streams to stdout as it is generated; a batch (--prompts_file) prints each\n"
        << "continuation when all are done. Generation stops at <|endoftext|> / <|im_end|>, at --stop,\n"
        << "or after --max_new_tokens.\n\n"
        << args.usage();
    return 0;
  }
  if (args.has("prompt") + args.has("prompt_ids") + args.has("prompts_file") != 1)
    throw UsageError("give exactly one of --prompt, --prompt_ids and --prompts_file");
  if (args.has("prompt_ids") && args.flag("chat"))
    throw UsageError("--chat takes text prompts, not --prompt_ids");
  if (args.has("system") && !args.flag("chat")) throw UsageError("--system needs --chat");
  const GenerationOptions generation = generation_options_from(args, kDefaultMaxNewTokens);
  const std::vector<std::string> texts = args.has("prompt") ? std::vector<std::string>{args.text("prompt")}
                                         : args.has("prompts_file")
                                             ? read_prompts_file(args.text("prompts_file"))
                                             : std::vector<std::string>{""};
  const bool benchmark = args.flag("benchmark");

  // The prompts are encoded before the weights are loaded, so that the memory preflight knows the batch and
  // the prompt length the cache and the prefill need.
  std::vector<std::vector<int32_t>> prompts;
  LoadedGenerator loaded(args, [&](const Tokenizer& tokenizer, const ModelConfig& config) {
    prompts = encode_prompts(args, texts, tokenizer, config.vocab_size);
    check_generation_memory(args, config, prompts, generation.max_new_tokens);
  });

  InterruptGuard guard;
  const bool stream = prompts.size() == 1 && !benchmark;
  const GenerationResult result =
      loaded.generator->generate(prompts, generation, [&](int64_t, int32_t, std::string_view piece) {
        if (stream && !piece.empty()) {
          std::fwrite(piece.data(), 1, piece.size(), stdout);
          std::fflush(stdout);
        }
        return !interrupt_requested();
      });
  if (benchmark) {
    int64_t generated = 0;
    for (const GeneratedSequence& s : result.sequences) generated += static_cast<int64_t>(s.tokens.size());
    const double decode_tokens =
        static_cast<double>(result.decode_steps) * static_cast<double>(prompts.size());
    // One JSON line; "tokens" (the first sequence's ids) lets scripts check the ids against another
    // implementation.
    std::printf(
        "{\"batch\": %zu, \"prompt_tokens\": %lld, \"generated_tokens\": %lld, \"prefill_s\": %.6f, "
        "\"decode_steps\": %lld, \"decode_s\": %.6f, \"decode_tokens_per_s\": %.2f, \"threads\": %d, "
        "\"tokens\": [",
        prompts.size(), static_cast<long long>(result.prompt_tokens), static_cast<long long>(generated),
        result.prefill_seconds, static_cast<long long>(result.decode_steps), result.decode_seconds,
        result.decode_seconds > 0 ? decode_tokens / result.decode_seconds : 0.0, cpu_thread_count(args));
    const std::vector<int32_t>& tokens = result.sequences[0].tokens;
    for (size_t i = 0; i < tokens.size(); ++i) std::printf("%s%d", i ? ", " : "", tokens[i]);
    std::printf("]}\n");
    return 0;
  }
  if (stream) {
    std::cout << "\n";
  } else {
    for (size_t i = 0; i < result.sequences.size(); ++i)
      std::cout << "[" << i << "] " << (args.flag("chat") ? "" : texts[i]) << result.sequences[i].text
                << "\n";
  }
  if (interrupt_requested()) std::cerr << "(interrupted)\n";
  return 0;
}

}  // namespace minimind::cli
