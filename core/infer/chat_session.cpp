// The chat loop's bookkeeping: history in, prompt ids out, reply appended.
#include "infer/chat_session.h"

#include "tokenizer/chat_format.h"

namespace minimind {

ChatSession::ChatSession(Generator& generator, std::string system_prompt) : generator_(generator) {
  if (!system_prompt.empty()) {
    history_.push_back({"system", std::move(system_prompt)});
    has_system_ = true;
  }
}

void ChatSession::reset() {
  history_.resize(has_system_ ? 1 : 0);
}

std::vector<int32_t> ChatSession::prompt_ids() const {
  return encode_chat(generator_.tokenizer(), history_, /*add_generation_prompt=*/true).ids;
}

GeneratedSequence ChatSession::send(const std::string& user_message, const GenerationOptions& options,
                                    const TokenCallback& on_token) {
  history_.push_back({"user", user_message});
  const int64_t context = generator_.model().config().max_position_embeddings;
  const size_t first_turn = has_system_ ? 1 : 0;
  std::vector<int32_t> prompt = prompt_ids();
  // Drop the oldest turns (keeping the new user message) until the reply fits.
  while (static_cast<int64_t>(prompt.size()) + options.max_new_tokens > context &&
         history_.size() > first_turn + 1) {
    history_.erase(history_.begin() + static_cast<std::ptrdiff_t>(first_turn));
    prompt = prompt_ids();
  }
  GenerationResult result;
  try {
    result = generator_.generate({prompt}, options, on_token);
  } catch (...) {
    history_.pop_back();  // a failed turn leaves the history as it was
    throw;
  }
  GeneratedSequence reply = std::move(result.sequences.front());
  history_.push_back({"assistant", reply.text});
  return reply;
}

}  // namespace minimind
