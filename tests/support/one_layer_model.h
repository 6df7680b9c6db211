// The smallest model the training tests run for real: one layer, hidden size 16, two query heads sharing one
// kv head, a 64-token vocabulary (matching the random shards the tests write) and a 32-position context.
#pragma once

#include "config/model_config.h"

namespace minimind {

inline ModelConfig one_layer_model() {
  ModelConfig c;
  c.hidden_size = 16;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.vocab_size = 64;
  c.intermediate_size = 32;
  c.max_position_embeddings = 32;
  return c;
}

}  // namespace minimind
