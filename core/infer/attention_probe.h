// The attention-map probe: one inference forward of a prompt (cut to its first tokens) through the KV-cache
// path, returning every layer's and head's causal attention probabilities with the tokens as text. The
// trainer runs it every N steps on its probe prompt; the lab runs it on demand on a loaded model.
#pragma once

#include <cstdint>
#include <string_view>

#include "model/minimind_model.h"
#include "tokenizer/tokenizer.h"
#include "train/events.h"

namespace minimind {

// Encodes `prompt`, keeps its first `max_tokens` ids and runs them as one forward of a fresh cache. The maps
// are [layer][head][query t][key s] with T = the kept tokens; row t sums to 1 and is 0 for s > t. `step` is
// copied into the result. A prompt that encodes to nothing gives maps with no tokens and no weights; a
// prompt longer than max_position_embeddings is cut to it.
AttentionMaps probe_attention(MiniMindModel& model, const Tokenizer& tokenizer, std::string_view prompt,
                              int64_t max_tokens = 64, int64_t step = 0);

}  // namespace minimind
