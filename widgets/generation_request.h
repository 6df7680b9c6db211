// What the Generate view asks for: the sampling settings, the token budget and, in chat mode, the turns so
// far. A plain value the view fills from its controls and a generation controller turns into core options.
#pragma once

#include <QString>

#include <cstdint>
#include <utility>
#include <vector>

namespace minimind {

struct ChatTurn {
  QString role;  // "system", "user" or "assistant"
  QString content;
  bool operator==(const ChatTurn&) const = default;
};

struct GenerationRequest {
  double temperature = 0.8;  // 0: greedy (the most likely token every time)
  int top_k = 40;            // 0: off
  double top_p = 0.95;       // in (0, 1]; 1: off
  double repetition_penalty = 1.0;  // 1: off
  int max_new_tokens = 128;
  uint64_t seed = 0;
  int candidates = 5;  // top candidates reported per generated token
  bool chat = false;   // the prompt is the user's next message, rendered in the chat format after `history`
  std::vector<ChatTurn> history;  // the finished turns of the conversation (chat mode)
};

// A generated token's most likely alternatives as the sampler saw them: (token text, probability).
using TokenCandidates = std::vector<std::pair<QString, double>>;

}  // namespace minimind
