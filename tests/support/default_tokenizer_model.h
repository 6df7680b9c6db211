// A small model whose vocabulary is the default tokenizer's, for tests that encode real text (probes,
// generation) without the cost of a real preset.
#pragma once

#include <cstdint>

#include "config/model_config.h"

namespace minimind {

inline ModelConfig small_model_for_default_tokenizer(int64_t max_positions) {
  ModelConfig c;
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.vocab_size = 6400;  // the default tokenizer's
  c.intermediate_size = 64;
  c.max_position_embeddings = max_positions;
  return c;
}

}  // namespace minimind
