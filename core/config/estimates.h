// What a configuration costs before anything is allocated: parameters, training FLOPs per token, and the
// memory of a workload by part (training: weights, gradients, AdamW moments, activations; evaluation;
// generation with its KV cache), from closed forms and the activation bytes the model's plan reports. The
// memory is that of a target: a device and a precision, whose roles (backend/precision.h) size each part.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/precision.h"
#include "config/model_config.h"
#include "tensor/tensor.h"

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

// Where a workload's memory is held, and in which precision. Each part takes the dtype of its role: the
// weights, their gradients and the AdamW moments the master dtype, a separate compute copy of the weights
// (bf16 mixed precision) the compute dtype, the RoPE tables the statistic dtype. A GPU also holds the CUDA
// backend's own buffers (kGpuBuffersBytes).
struct MemoryTarget {
  Device device = Device::cpu;
  Precision precision = Precision::f32();
  // What the lab and the CLI train in on a device: bf16 mixed precision on a GPU, f32 on the CPU.
  static MemoryTarget for_device(Device device);
  // A run's precision choice as TrainConfig and --precision spell it (model/precision_choice.h), on
  // `device`: "auto" is for_device's; "f32" and "bf16" as named, except bf16 on the CPU, which cannot
  // compute in it: a resumed run continues there in f32 (and a new one is refused). Throws
  // std::invalid_argument for another name.
  static MemoryTarget for_choice(Device device, const std::string& precision);
  bool operator==(const MemoryTarget&) const = default;
};

// The CUDA backend's buffers allocated once per backend (cuda_backend.cu): cuBLASLt's workspace, and the
// staging and reduction buffers (counted whole, wherever they live: an upper bound). The batch's device
// copies (ids, targets, masks) are the model's plan's, counted with the activations.
constexpr int64_t kGpuWorkspaceBytes = int64_t{32} << 20;
constexpr int64_t kGpuStagingBytes = int64_t{4} << 20;
constexpr int64_t kGpuBuffersBytes = kGpuWorkspaceBytes + kGpuStagingBytes;

// The bytes a workload holds at its peak, by part. Sums saturate at INT64_MAX: a shape too large to count
// is simply too large to allocate.
struct MemoryEstimate {
  int64_t weights_bytes = 0;          // the parameters, in the master dtype (what AdamW updates)
  int64_t compute_weights_bytes = 0;  // the compute copy the products read (bf16 mixed precision), else 0
  int64_t rope_tables_bytes = 0;      // RoPE cos and sin for every position up to max_position_embeddings
  int64_t gradients_bytes = 0;        // training: one block over every parameter, unused experts too
  int64_t optimizer_bytes = 0;        // training: AdamW's first and second moments
  int64_t activations_bytes = 0;      // the model's activation plan (training, or one inference forward)
  int64_t kv_cache_bytes = 0;         // generation: every layer's keys and values, and the key mask
  // Evaluation: host copies of logits handed to the caller (CPU targets only). Generation: each sequence's
  // next-token row and repetition-penalty marks, on the model's device.
  int64_t logits_bytes = 0;
  int64_t gpu_buffers_bytes = 0;      // on a GPU: the backend's workspace and staging
  int64_t total() const;

  // "weights", "compute weights", "RoPE tables", "gradients", "AdamW state", "activations", "KV cache",
  // "logits" or "GPU buffers".
  struct Part {
    const char* name;
    int64_t bytes;
  };
  std::vector<Part> parts() const;  // the nonzero parts, largest first
};

// a + b, or INT64_MAX when it would overflow; both non-negative.
int64_t saturating_add(int64_t a, int64_t b);

// Training (the CPU in f32 unless `target` says otherwise): weights (and their compute copy), RoPE tables,
// gradients (every parameter, unused experts too: the gradient buffer is one block) and AdamW's two moments,
// plus `activations_bytes` from the model's activation plan for this batch and seq_len in the target's
// compute dtype, and a GPU's buffers. Throws std::invalid_argument on a non-positive batch or seq_len,
// seq_len beyond max_position_embeddings, or negative activations_bytes.
MemoryEstimate estimate_memory(const ModelConfig& config, int64_t batch, int64_t seq_len,
                               int64_t activations_bytes, const MemoryTarget& target = {});

// Evaluation: weights, RoPE tables, the activation plan and a GPU's buffers; no gradients, no optimizer.
// Throws as estimate_memory.
MemoryEstimate estimate_evaluation_memory(const ModelConfig& config, int64_t batch, int64_t seq_len,
                                          int64_t activations_bytes, const MemoryTarget& target = {});

// The KV cache of `batch` sequences of `capacity` positions: keys and values [batch, capacity, kv_heads,
// head_dim] per layer in `dtype`, and the i32 key mask on the device and its host copy.
int64_t kv_cache_bytes(const ModelConfig& config, int64_t batch, int64_t capacity, DType dtype = DType::f32);

// Logits [batch, positions, vocab_size] in `dtype`, saturating.
int64_t logits_bytes(const ModelConfig& config, int64_t batch, int64_t positions, DType dtype = DType::f32);

// Generation at its peak, the prefill of `batch` prompts padded to `prompt_tokens`: weights, RoPE tables, the
// KV cache for `capacity` positions (compute dtype), the inference plan's activations (`activations_bytes`,
// at batch x prompt_tokens), the host copy of the prefill's logits [batch, prompt_tokens, vocab] (statistic
// dtype; counted on the CPU only: on a GPU it is not device memory) and a GPU's buffers. Throws
// std::invalid_argument unless 1 <= prompt_tokens <= capacity <= max_position_embeddings and batch >= 1.
MemoryEstimate estimate_generation_memory(const ModelConfig& config, int64_t batch, int64_t prompt_tokens,
                                          int64_t capacity, int64_t activations_bytes,
                                          const MemoryTarget& target = {});

}  // namespace minimind
