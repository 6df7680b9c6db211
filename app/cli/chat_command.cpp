// minimind chat: a conversation with an SFT model in the chat format, the history kept between turns.
// Interactive on a terminal (or any stdin: one message per line, /reset forgets the history, EOF ends), or
// one --message for scripts.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/generation_setup.h"
#include "cli/memory_check.h"
#include "infer/chat_session.h"
#include "model/memory_plan.h"
#include "tokenizer/chat_format.h"

namespace minimind::cli {

namespace {

// The preflight of one turn: the history and `message` rendered as ChatSession::send renders them (older
// turns give way when the context is full), with room for max_new_tokens.
void check_turn_memory(const Arguments& args, const Tokenizer& tokenizer, const ModelConfig& config,
                       std::vector<ChatMessage> messages, const std::string& message,
                       int64_t max_new_tokens) {
  messages.push_back({"user", message});
  const auto rendered = static_cast<int64_t>(encode_chat(tokenizer, messages, true).ids.size());
  const int64_t context = config.max_position_embeddings;
  const int64_t prompt = std::min(rendered, std::max<int64_t>(context - max_new_tokens, 1));
  MemoryRequest request = generation_request(config, 1, prompt, max_new_tokens);
  request.batch_name = "batch";
  request.length_name = "--max_new_tokens";
  check_memory_or_refuse(args, request);
}

// Streams one reply to stdout; Ctrl-C ends the reply, not the program.
GeneratedSequence reply_to(ChatSession& chat, const std::string& message, const GenerationOptions& options) {
  clear_interrupt();
  GeneratedSequence reply = chat.send(message, options, [](int64_t, int32_t, std::string_view piece) {
    if (!piece.empty()) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
    return !interrupt_requested();
  });
  std::fputs("\n", stdout);
  std::fflush(stdout);
  return reply;
}

}  // namespace

int chat_command(int argc, char** argv) {
  constexpr int64_t kDefaultMaxNewTokens = 512;
  std::vector<Option> options = generation_option_list(kDefaultMaxNewTokens);
  options.insert(options.begin() + 2, {{"system", "TEXT", "a system prompt before the conversation"},
                                       {"message", "TEXT", "send one message, print the reply and exit"}});
  Arguments args("chat", options, argc, argv);
  if (args.help_requested()) {
    std::cout << "minimind chat: talk with an SFT model\n\n"
              << "Each line on stdin is a user message; the reply streams back. /reset forgets the history,\n"
              << "/exit or end of input (Ctrl-D) ends, Ctrl-C stops the current reply.\n\n"
              << args.usage();
    return 0;
  }
  const GenerationOptions generation = generation_options_from(args, kDefaultMaxNewTokens);
  if (args.has("message") && args.text("message").empty()) throw UsageError("--message is empty");
  std::vector<ChatMessage> system;
  if (args.has("system") && !args.text("system").empty()) system.push_back({"system", args.text("system")});
  // Before the weights load: the first turn (the --message, or an empty one), so a model or cache that cannot
  // fit is refused before anything big is allocated. Each later turn is checked as it comes.
  LoadedGenerator loaded(args, [&](const Tokenizer& tokenizer, const ModelConfig& config) {
    check_turn_memory(args, tokenizer, config, system, args.text("message"), generation.max_new_tokens);
  });
  ChatSession chat(*loaded.generator, args.text("system"));
  InterruptGuard guard;

  if (args.has("message")) {
    reply_to(chat, args.text("message"), generation);
    return 0;
  }
  const bool terminal = ::isatty(STDIN_FILENO) != 0;
  if (terminal)
    std::cerr << "minimind chat: type a message; /reset forgets the history, /exit or Ctrl-D ends\n";
  std::string line;
  while (true) {
    if (terminal) std::cerr << "> " << std::flush;
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      chat.reset();
      if (terminal) std::cerr << "(history cleared)\n";
      continue;
    }
    try {
      check_turn_memory(args, *loaded.tokenizer, loaded.model->config(), chat.history(), line,
                        generation.max_new_tokens);
    } catch (const MemoryRefused& refused) {
      // This turn is refused; the conversation goes on (a shorter message or /reset may fit).
      std::cerr << refused.what() << "\n";
      continue;
    }
    reply_to(chat, line, generation);
  }
  if (terminal) std::cerr << "\n";
  return 0;
}

}  // namespace minimind::cli
