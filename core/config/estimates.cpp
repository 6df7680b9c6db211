// Closed forms over the layer layout of the seed's MiniMind: bias-free q/k/v/o projections, a SwiGLU
// feed-forward (gate, up, down) or its mixture of experts with a bias-free router, two RMSNorm weights per
// layer and one final norm, and an lm head tied to the embedding.
#include "config/estimates.h"

#include <limits>
#include <stdexcept>
#include <string>

namespace minimind {

namespace {

// The products of one layer that every token runs through.
struct LayerShape {
  int64_t attention;  // q, k, v, o projections
  int64_t one_ffn;    // gate, up, down of one feed-forward (one expert)
  int64_t router;     // hidden_size x n_routed_experts, 0 without MoE
  int64_t norms;      // input and post-attention RMSNorm weights
};

LayerShape layer_shape(const ModelConfig& config) {
  const int64_t hidden = config.hidden_size;
  return {.attention = 2 * hidden * config.q_dim() + 2 * hidden * config.kv_dim(),
          .one_ffn = 3 * hidden * config.ffn_size(),
          .router = config.use_moe ? hidden * config.n_routed_experts : 0,
          .norms = 2 * hidden};
}

// Feed-forward weights one token multiplies by: the dense FFN, or the router, the shared and the top-k
// experts.
int64_t active_mlp(const ModelConfig& config, const LayerShape& layer) {
  if (!config.use_moe) return layer.one_ffn;
  return layer.router + (config.n_shared_experts + config.num_experts_per_tok) * layer.one_ffn;
}

void check_seq_len(const ModelConfig& config, int64_t seq_len, const char* function) {
  if (seq_len < 1 || seq_len > config.max_position_embeddings)
    throw std::invalid_argument(std::string(function) + ": seq_len must be in [1, max_position_embeddings " +
                                std::to_string(config.max_position_embeddings) + "], found " +
                                std::to_string(seq_len));
}

}  // namespace

ParameterCount count_parameters(const ModelConfig& config) {
  check_valid(config);  // also bounds every size, so none of the products below can overflow
  const LayerShape layer = layer_shape(config);
  const int64_t all_experts = config.use_moe ? config.n_routed_experts + config.n_shared_experts : 1;
  const int64_t per_layer = layer.attention + layer.router + all_experts * layer.one_ffn + layer.norms;
  const int64_t embedding = config.vocab_size * config.hidden_size;
  const int64_t final_norm = config.hidden_size;
  const int64_t total = embedding + config.num_hidden_layers * per_layer + final_norm;
  const int64_t idle_experts = config.use_moe ? config.n_routed_experts - config.num_experts_per_tok : 0;
  const int64_t active = total - config.num_hidden_layers * idle_experts * layer.one_ffn;
  return {.total = total, .active = active, .embedding = embedding, .per_layer = per_layer};
}

double training_flops_per_token(const ModelConfig& config, int64_t seq_len) {
  check_valid(config);
  check_seq_len(config, seq_len, "training_flops_per_token");
  const LayerShape layer = layer_shape(config);
  const double lm_head = static_cast<double>(config.vocab_size) * static_cast<double>(config.hidden_size);
  const double matmul_parameters = static_cast<double>(config.num_hidden_layers) *
                                       static_cast<double>(layer.attention + active_mlp(config, layer)) +
                                   lm_head;
  const double attention_products = 6.0 * static_cast<double>(config.num_hidden_layers) *
                                    static_cast<double>(config.q_dim()) * static_cast<double>(seq_len);
  return 6.0 * matmul_parameters + attention_products;
}

MemoryEstimate estimate_memory(const ModelConfig& config, int64_t batch, int64_t seq_len,
                               int64_t activations_bytes) {
  const int64_t parameters = count_parameters(config).total;  // validates; at most kMaxParameters
  if (batch < 1)
    throw std::invalid_argument("estimate_memory: batch must be positive, found " + std::to_string(batch));
  check_seq_len(config, seq_len, "estimate_memory");
  constexpr int64_t kFloatBytes = 4;
  const MemoryEstimate estimate{.weights_bytes = parameters * kFloatBytes,
                                .gradients_bytes = parameters * kFloatBytes,
                                .optimizer_bytes = 2 * parameters * kFloatBytes,
                                .activations_bytes = 0};
  // total() must not overflow either.
  const int64_t activations_limit = std::numeric_limits<int64_t>::max() - estimate.total();
  if (activations_bytes < 0 || activations_bytes > activations_limit)
    throw std::invalid_argument("estimate_memory: activations_bytes must be in [0, " +
                                std::to_string(activations_limit) + "], found " +
                                std::to_string(activations_bytes));
  MemoryEstimate result = estimate;
  result.activations_bytes = activations_bytes;
  return result;
}

}  // namespace minimind
