// The model's buffers for one (batch, seq_len), planned up front, each in the dtype of its role
// (backend/precision.h): activations and their gradients in the compute dtype C; rstd, log-sum-exp, losses,
// router logits and scores, top-k weights in the statistic dtype S; loss totals and the backward's scale in
// f64. Internal to the model's .cpp files; the same code counts the bytes for estimates.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "model/minimind_model.h"

namespace minimind {

// What one layer keeps between its forward and its backward. In inference one LayerState is reused by
// every layer, and k / v point into the KV cache.
struct MiniMindModel::LayerState {
  Tensor input, output;  // residual stream before and after the layer, [N, H]
  Tensor norm1, rstd1, q, k, v, lse, attn, h1, norm2, rstd2;
  Tensor gate_up, act;  // dense FFN
  // MoE: router outputs, the dispatch plan (expert_offsets is the plan's per-layer tensor), the expert-sorted
  // rows
  Tensor scores, topk_index, topk_weight, expert_offsets, slot_of, sorted_x, expert_gate_up, expert_act,
      expert_out;
  std::vector<Tensor> shared_gate_up, shared_act;
};

struct MiniMindModel::Plan {
  int64_t batch = 0, seq_len = 0;
  bool training = false;
  int64_t bytes = 0;
  std::vector<LayerState> layers;
  std::vector<Tensor> residual;
  std::vector<Tensor>
      expert_offsets;  // per layer, i32 [E + 1]: kept so that expert_load() can read them later
  Tensor ids, targets, key_mask;
  Tensor qkv, projection, router_logits, norm_f, rstd_f, logits;
  // training only: the loss and the step's device scalars
  Tensor loss_mask, logsumexp, losses, totals, step_seed, d_scale;
  // backward scratch, shared by all layers
  Tensor d_losses, d_resid, d_norm, d_projection, d_attn, d_qkv, d_q, d_k, d_v, d_gate_up, d_act,
      d_expert_out, d_topk_weight, d_sorted, d_scores, d_router_logits, d_router_logits_compute;
  bool has_key_mask = false;
  bool has_loss_mask = false;
};

namespace model_plan {

// Allocates the plan's tensors, or only counts their bytes (for estimates) when `backend` is null. The count
// saturates at INT64_MAX: an estimate may be asked about shapes far too large to allocate.
struct Allocator {
  Backend* backend;
  DType compute;
  int64_t bytes = 0;
  DType statistic() const { return wide_dtype(compute); }
  Tensor operator()(Shape shape, DType type) {
    int64_t size = static_cast<int64_t>(dtype_size(type));
    for (const int64_t dim : shape)
      if (__builtin_mul_overflow(size, dim, &size)) size = std::numeric_limits<int64_t>::max();
    if (__builtin_add_overflow(bytes, size, &bytes)) bytes = std::numeric_limits<int64_t>::max();
    return backend ? backend->empty(std::move(shape), type) : Tensor{};
  }
  Tensor activation(Shape shape) { return (*this)(std::move(shape), compute); }
  Tensor statistic(Shape shape) { return (*this)(std::move(shape), statistic()); }
};

// Builds every buffer of a plan. In inference only one layer's buffers exist and k / v come from the cache.
void build(MiniMindModel::Plan& plan, const ModelConfig& config, int64_t batch, int64_t seq_len,
           bool training, Allocator& alloc);

// Dropout sites: each place of each layer draws its own mask, numbered (layer + 1) * 4096 + place (the
// embedding's is layer -1). The routed experts' outputs share one mask over the expert-sorted rows.
enum DropoutPlace : uint64_t {
  kEmbedding = 0,
  kAttentionProbs,
  kAttentionOutput,
  kFfnOutput,
  kRoutedExperts,
  kSharedExperts,  // + the shared expert's index
};
inline uint64_t dropout_site(int64_t layer, uint64_t place) {
  return static_cast<uint64_t>(layer + 1) * 4096 + place;
}

// One projection of every routed expert of `layer`, as the grouped product reads it from a parameter set of
// the model's layout: the fused gate_up [2I, H] (gate_proj and up_proj are adjacent) or down [H, I]. Experts
// follow each other with a fixed stride (gate, up, down of expert e, then of e + 1).
ExpertWeights routed_expert_weights(const ParameterSet& set, const ModelConfig& config, int64_t layer,
                                    bool gate_up);

}  // namespace model_plan
}  // namespace minimind
