// The chat format MiniMind is trained on (ChatML):
//   <|im_start|>{role}\n{content}<|im_end|>\n   for each system, user and assistant turn,
// optionally followed by the generation prompt <|im_start|>assistant\n. The SFT loss mask marks the tokens
// the model learns to produce: each assistant turn's content and its <|im_end|>.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "text/chat_message.h"
#include "tokenizer/tokenizer.h"

namespace minimind {

// The same format as a Jinja chat template, for tokenizer_config.json.
inline constexpr std::string_view kChatTemplate =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% "
    "endif %}";

// The rendered text. Throws std::invalid_argument naming the message for a role other than system, user or
// assistant.
std::string render_chat(std::span<const ChatMessage> messages, bool add_generation_prompt = false);

struct ChatEncoding {
  std::vector<int32_t> ids;        // exactly tokenizer.encode(render_chat(messages, add_generation_prompt))
  std::vector<uint8_t> loss_mask;  // one per id: 1 on assistant content and its <|im_end|>, 0 elsewhere
};

// Encodes the rendered text as a whole (so the ids are what encoding the text gives) and marks the tokens
// that hold any byte of an assistant turn's content or of its <|im_end|>. The header
// <|im_start|>assistant\n, the "\n" after <|im_end|> and the generation prompt stay 0. One case shares a
// token between header and content: content that starts with white space can merge with the header's "\n"
// (for example "\n\n"); that token counts as content, so that every byte of the content is learned.
ChatEncoding encode_chat(const Tokenizer& tokenizer, std::span<const ChatMessage> messages,
                         bool add_generation_prompt = false);

}  // namespace minimind
