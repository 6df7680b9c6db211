// One turn of a conversation: who speaks ("system", "user" or "assistant") and what is said. The SFT readers
// (data/) produce these; the chat format (tokenizer/chat_format.h) turns them into
// <|im_start|>role\ncontent<|im_end|>\n text.
#pragma once

#include <string>

namespace minimind {

struct ChatMessage {
  std::string role;
  std::string content;

  bool operator==(const ChatMessage&) const = default;
};

}  // namespace minimind
