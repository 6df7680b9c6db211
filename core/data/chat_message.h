// One turn of a conversation: who speaks ("system", "user" or "assistant") and what is said. The SFT reader
// produces these; the chat format turns them into <|im_start|>role\ncontent<|im_end|>\n text.
#pragma once

#include <string>

namespace minimind {

struct ChatMessage {
  std::string role;
  std::string content;

  bool operator==(const ChatMessage&) const = default;
};

}  // namespace minimind
