// What a configuration costs before anything is allocated: parameters, training FLOPs per token, and the
// memory of a training step (fp32 weights, gradients and AdamW moments, plus the planned activations).
#pragma once

#include <cstdint>

#include "config/model_config.h"

namespace minimind {

struct ParameterCount {
  int64_t total;      // every parameter; the tied embedding / lm head counted once
  int64_t active;     // what one token uses: with MoE, the shared and top-k routed experts and the router
  int64_t embedding;  // embed_tokens (= lm_head): vocab_size * hidden_size
  int64_t per_layer;  // one decoder layer: attention, feed-forward (all experts and the router), two norms
};

// Throws ConfigError when the config is invalid.
ParameterCount count_parameters(const ModelConfig& config);

// 6 * (active matmul parameters, the lm head included, norms and the embedding lookup excluded)
// + 6 * num_hidden_layers * (num_attention_heads * head_dim) * seq_len. The first term is the forward
// (2 FLOPs per multiply-add) and backward (twice the forward) of every weight product. The second is the
// attention's own products QK^T and PV: a query at position t meets t + 1 keys, about seq_len / 2 on
// average under the causal mask, so each costs 2 * q_dim * seq_len / 2 forward, 3x that with the backward.
// Throws std::invalid_argument unless 1 <= seq_len <= max_position_embeddings.
double training_flops_per_token(const ModelConfig& config, int64_t seq_len);

struct MemoryEstimate {
  int64_t weights_bytes;
  int64_t gradients_bytes;
  int64_t optimizer_bytes;
  int64_t activations_bytes;
  int64_t total() const { return weights_bytes + gradients_bytes + optimizer_bytes + activations_bytes; }
};

// fp32 weights, fp32 gradients (every parameter, unused experts too: the gradient buffer is one block) and
// AdamW's two fp32 moments. activations_bytes comes from the model's activation plan for this batch and
// seq_len. Throws std::invalid_argument on a non-positive batch or seq_len, seq_len beyond
// max_position_embeddings, or negative activations_bytes.
MemoryEstimate estimate_memory(const ModelConfig& config, int64_t batch, int64_t seq_len,
                               int64_t activations_bytes);

}  // namespace minimind
