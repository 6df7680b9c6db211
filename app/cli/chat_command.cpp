// minimind chat: a conversation with an SFT model in the chat format, the history kept between turns.
// Interactive on a terminal (or any stdin: one message per line, /reset forgets the history, EOF ends), or
// one --message for scripts.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/generation_setup.h"
#include "infer/chat_session.h"

namespace minimind::cli {

namespace {

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
  LoadedGenerator loaded(args);
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
    reply_to(chat, line, generation);
  }
  if (terminal) std::cerr << "\n";
  return 0;
}

}  // namespace minimind::cli
