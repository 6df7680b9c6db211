// Closed forms over the layer layout of the seed's MiniMind: bias-free q/k/v/o projections, a SwiGLU
// feed-forward (gate, up, down) or its mixture of experts with a bias-free router, two RMSNorm weights per
// layer and one final norm, and an lm head tied to the embedding.
#include "config/estimates.h"

#include <algorithm>
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

MemoryTarget MemoryTarget::for_device(Device device) {
  return device == Device::cuda ? MemoryTarget{Device::cuda, Precision::bf16_mixed()}
                                : MemoryTarget{Device::cpu, Precision::f32()};
}

MemoryTarget MemoryTarget::for_choice(Device device, const std::string& precision) {
  if (precision == "auto") return for_device(device);
  if (precision != "f32" && precision != "bf16")
    throw std::invalid_argument("precision must be auto, f32 or bf16, got \"" + precision + "\"");
  if (precision == "bf16" && device == Device::cuda) return {device, Precision::bf16_mixed()};
  return {device, Precision::f32()};
}

int64_t MemoryEstimate::total() const {
  int64_t sum = 0;
  for (const Part& part : parts()) sum = saturating_add(sum, part.bytes);
  return sum;
}

std::vector<MemoryEstimate::Part> MemoryEstimate::parts() const {
  std::vector<Part> all = {{"weights", weights_bytes},         {"compute weights", compute_weights_bytes},
                           {"RoPE tables", rope_tables_bytes}, {"gradients", gradients_bytes},
                           {"AdamW state", optimizer_bytes},   {"activations", activations_bytes},
                           {"KV cache", kv_cache_bytes},       {"logits", logits_bytes},
                           {"GPU buffers", gpu_buffers_bytes}};
  std::erase_if(all, [](const Part& part) { return part.bytes == 0; });
  std::stable_sort(all.begin(), all.end(), [](const Part& a, const Part& b) { return a.bytes > b.bytes; });
  return all;
}

int64_t saturating_add(int64_t a, int64_t b) {
  int64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? std::numeric_limits<int64_t>::max() : sum;
}

namespace {

// A byte count computed in double (its factors are not all bounded by the config), saturated to INT64_MAX.
int64_t saturated_bytes(double bytes) {
  constexpr double kLargest = 9.2e18;  // the largest double comfortably below INT64_MAX
  return bytes >= kLargest ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(bytes);
}

int64_t role_bytes(int64_t values, DType dtype) {
  return values * static_cast<int64_t>(dtype_size(dtype));
}

// What every workload holds: the parameters (master, and the compute copy when the precision keeps one), the
// RoPE tables ([max_position_embeddings, head_dim] each for cos and sin, built at model construction) and a
// GPU's buffers. Validates the config, batch and seq_len.
MemoryEstimate model_memory(const ModelConfig& config, int64_t batch, int64_t seq_len,
                            int64_t activations_bytes, const MemoryTarget& target, const char* function) {
  const int64_t parameters = count_parameters(config).total;  // validates; at most kMaxParameters
  if (batch < 1)
    throw std::invalid_argument(std::string(function) + ": batch must be positive, found " +
                                std::to_string(batch));
  check_seq_len(config, seq_len, function);
  if (activations_bytes < 0)
    throw std::invalid_argument(std::string(function) + ": activations_bytes must not be negative, found " +
                                std::to_string(activations_bytes));
  const Precision& precision = target.precision;
  MemoryEstimate estimate;
  // Bounded by the config's limits: at most kMaxParameters values, and 2^22 positions x 2^16 head_dim x 2
  // tables, of at most 8 bytes each: below 2^63.
  estimate.weights_bytes = role_bytes(parameters, precision.master());
  if (precision.separate_compute_weights())
    estimate.compute_weights_bytes = role_bytes(parameters, precision.compute);
  estimate.rope_tables_bytes =
      role_bytes(2 * config.max_position_embeddings * config.head_dim(), precision.statistic());
  estimate.activations_bytes = activations_bytes;
  if (target.device == Device::cuda) estimate.gpu_buffers_bytes = kGpuBuffersBytes;
  return estimate;
}

}  // namespace

MemoryEstimate estimate_memory(const ModelConfig& config, int64_t batch, int64_t seq_len,
                               int64_t activations_bytes, const MemoryTarget& target) {
  MemoryEstimate estimate =
      model_memory(config, batch, seq_len, activations_bytes, target, "estimate_memory");
  const int64_t parameters = count_parameters(config).total;
  estimate.gradients_bytes = role_bytes(parameters, target.precision.gradient());
  estimate.optimizer_bytes = 2 * role_bytes(parameters, target.precision.master());
  return estimate;
}

MemoryEstimate estimate_evaluation_memory(const ModelConfig& config, int64_t batch, int64_t seq_len,
                                          int64_t activations_bytes, const MemoryTarget& target) {
  return model_memory(config, batch, seq_len, activations_bytes, target, "estimate_evaluation_memory");
}

int64_t kv_cache_bytes(const ModelConfig& config, int64_t batch, int64_t capacity, DType dtype) {
  check_valid(config);
  if (batch < 1)
    throw std::invalid_argument("kv_cache_bytes: batch must be positive, found " + std::to_string(batch));
  check_seq_len(config, capacity, "kv_cache_bytes");
  // In double: batch is not bounded by the config, so the product may not fit int64.
  const double value_bytes = static_cast<double>(dtype_size(dtype));
  const double positions = static_cast<double>(batch) * static_cast<double>(capacity);
  const double bytes = positions * (2.0 * static_cast<double>(config.num_hidden_layers) *
                                        static_cast<double>(config.kv_dim()) * value_bytes +
                                    2.0 * 4.0);  // the i32 key mask on the device and on the host
  return saturated_bytes(bytes);
}

int64_t logits_bytes(const ModelConfig& config, int64_t batch, int64_t positions, DType dtype) {
  return saturated_bytes(static_cast<double>(batch) * static_cast<double>(positions) *
                         static_cast<double>(config.vocab_size) * static_cast<double>(dtype_size(dtype)));
}

MemoryEstimate estimate_generation_memory(const ModelConfig& config, int64_t batch, int64_t prompt_tokens,
                                          int64_t capacity, int64_t activations_bytes,
                                          const MemoryTarget& target) {
  MemoryEstimate estimate =
      model_memory(config, batch, prompt_tokens, activations_bytes, target, "estimate_generation_memory");
  if (capacity < prompt_tokens)
    throw std::invalid_argument("estimate_generation_memory: capacity " + std::to_string(capacity) +
                                " must hold the prompt's " + std::to_string(prompt_tokens) + " tokens");
  estimate.kv_cache_bytes = kv_cache_bytes(config, batch, capacity, target.precision.compute);
  // Beside the plan, the next-token rows on the model's device: each sequence's last logits (compute dtype)
  // and its marks for the repetition penalty (i32).
  estimate.logits_bytes =
      saturated_bytes(static_cast<double>(logits_bytes(config, batch, 1, target.precision.compute)) +
                      static_cast<double>(logits_bytes(config, batch, 1, DType::i32)));
  return estimate;
}

}  // namespace minimind
