// A conversation with an SFT model: the history of turns, rendered in the chat format with the generation
// prompt <|im_start|>assistant\n, and the model's reply appended as the assistant's turn.
#pragma once

#include <string>
#include <vector>

#include "text/chat_message.h"
#include "infer/generator.h"

namespace minimind {

class ChatSession {
 public:
  explicit ChatSession(Generator& generator, std::string system_prompt = "");

  // Adds the user's turn, generates the assistant's (stopping at <|im_end|> unless options say otherwise) and
  // adds it to the history. When the rendered history does not leave room for max_new_tokens in the model's
  // context, the oldest exchanges are dropped (the system prompt stays).
  GeneratedSequence send(const std::string& user_message, const GenerationOptions& options,
                         const TokenCallback& on_token = {});

  // The prompt the next reply is generated from: the history rendered with the generation prompt.
  std::vector<int32_t> prompt_ids() const;
  const std::vector<ChatMessage>& history() const { return history_; }
  // Forgets every turn but the system prompt.
  void reset();

 private:
  Generator& generator_;
  std::vector<ChatMessage> history_;
  bool has_system_ = false;
};

}  // namespace minimind
