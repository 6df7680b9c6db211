// Rendering and encoding of chats: the text is rendered once while the byte range of every assistant turn's
// content and <|im_end|> is noted; the text is encoded with the span of each token, which decides its mask.
#include "tokenizer/chat_format.h"

#include <stdexcept>
#include <utility>

namespace minimind {
namespace {

constexpr std::string_view kStart = "<|im_start|>";
constexpr std::string_view kEnd = "<|im_end|>";

void check_role(const ChatMessage& message, std::size_t index) {
  if (message.role != "system" && message.role != "user" && message.role != "assistant") {
    throw std::invalid_argument("chat message " + std::to_string(index) + ": role \"" + message.role +
                                "\" is not supported (expected system, user or assistant)");
  }
}

// Renders the chat into `text` and returns the byte ranges [content begin, <|im_end|> end) of assistant
// turns.
std::vector<std::pair<std::size_t, std::size_t>> render(std::span<const ChatMessage> messages,
                                                        bool add_generation_prompt, std::string& text) {
  std::vector<std::pair<std::size_t, std::size_t>> learned;
  for (std::size_t i = 0; i < messages.size(); ++i) check_role(messages[i], i);
  for (const ChatMessage& message : messages) {
    text.append(kStart).append(message.role).append("\n");
    const std::size_t content_begin = text.size();
    text.append(message.content).append(kEnd);
    if (message.role == "assistant") learned.emplace_back(content_begin, text.size());
    text.append("\n");
  }
  if (add_generation_prompt) text.append(kStart).append("assistant\n");
  return learned;
}

}  // namespace

std::string render_chat(std::span<const ChatMessage> messages, bool add_generation_prompt) {
  std::string text;
  render(messages, add_generation_prompt, text);
  return text;
}

ChatEncoding encode_chat(const Tokenizer& tokenizer, std::span<const ChatMessage> messages,
                         bool add_generation_prompt) {
  std::string text;
  const auto learned = render(messages, add_generation_prompt, text);
  ChatEncoding encoding;
  std::vector<std::size_t> token_ends;
  tokenizer.encode_append(text, encoding.ids, token_ends);
  encoding.loss_mask.assign(encoding.ids.size(), 0);
  std::size_t token_begin = 0;
  std::size_t range = 0;  // the first learned range that does not end before the current token
  for (std::size_t t = 0; t < encoding.ids.size(); ++t) {
    while (range < learned.size() && learned[range].second <= token_begin) ++range;
    if (range < learned.size() && token_ends[t] > learned[range].first &&
        token_begin < learned[range].second) {
      encoding.loss_mask[t] = 1;
    }
    token_begin = token_ends[t];
  }
  return encoding;
}

}  // namespace minimind
