// The MiniMind network, written once against the Backend op interface: embedding, pre-norm blocks of
// (RMSNorm -> GQA attention with RoPE -> residual -> RMSNorm -> SwiGLU FFN or MoE -> residual), a final
// RMSNorm and the tied LM head; the masked mean cross-entropy plus the MoE load-balancing loss; the exact
// backward; and an inference path with a KV cache. Activations are planned from (batch, seq_len) up front.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "config/model_config.h"
#include "model/parameters.h"
#include "model/rope_table.h"

namespace minimind {

// A batch on the host. targets[b, t] is the id predicted at position t; loss_mask (optional, f32 or the
// model dtype, 1 = scored) and attention_mask (optional, i32, 0 = padded key) are [B, T].
struct Batch {
  Tensor input_ids;
  Tensor targets;
  Tensor loss_mask;
  Tensor attention_mask;
};

struct LossTerms {
  double loss = 0;        // cross_entropy + aux_loss
  double cross_entropy = 0;
  double aux_loss = 0;     // summed over MoE layers (training mode only, as in the seed)
  int64_t scored_tokens = 0;
};

// Per layer, the share of routed (token, k) slots each expert received in the last forward.
struct ExpertLoad {
  std::vector<std::vector<double>> fraction;  // [layer][expert]
};

// The keys and values of every layer for `capacity` positions of `batch` sequences.
class KvCache {
 public:
  KvCache() = default;
  int64_t batch() const { return batch_; }
  int64_t capacity() const { return capacity_; }
  int64_t length() const { return length_; }
  void clear() { length_ = 0; }

 private:
  friend class MiniMindModel;
  int64_t batch_ = 0, capacity_ = 0, length_ = 0;
  std::vector<Tensor> keys, values;  // per layer [B, capacity, Hkv, D]
  Tensor key_mask;                   // i32 [B, capacity] on the backend's device
  Tensor host_key_mask;              // its host copy, updated as positions arrive
  bool has_padding = false;
};

class MiniMindModel {
 public:
  // `dtype` is the compute and parameter dtype: f32, or f64 on the CPU for gradient checks.
  MiniMindModel(const ModelConfig& config, Backend& backend, DType dtype = DType::f32);
  ~MiniMindModel();
  MiniMindModel(const MiniMindModel&) = delete;
  MiniMindModel& operator=(const MiniMindModel&) = delete;

  const ModelConfig& config() const { return config_; }
  Backend& backend() const { return backend_; }
  DType dtype() const { return dtype_; }
  const ParameterLayout& layout() const { return layout_; }
  ParameterSet& parameters() { return parameters_; }
  const ParameterSet& parameters() const { return parameters_; }
  ParameterSet& gradients();  // allocated (zeroed) on first use

  // The seed's initialisation: linear layers (and the tied embedding) U(-1/sqrt(in), 1/sqrt(in)), norms 1.
  void init_weights(uint64_t seed);

  // Forward over a batch, keeping what the backward needs. `training` enables dropout (with `dropout_seed`
  // drawing the masks) and the MoE aux loss. Returns the loss terms.
  LossTerms forward(const Batch& batch, bool training, uint64_t dropout_seed = 0);
  // Adds d(loss_scale * loss)/d(parameters) to gradients(), for the last forward.
  void backward(double loss_scale = 1.0);
  // [B, T, V] logits of the last forward (a view of the model's buffer, overwritten by the backward).
  Tensor logits() const;
  const ExpertLoad& expert_load() const { return expert_load_; }
  // Attention probabilities [B, Hq, T, T] of `layer` from the last training forward.
  Tensor attention_probs(int64_t layer) const;

  // ---- inference with a KV cache ----
  KvCache make_cache(int64_t batch, int64_t capacity) const;
  // Runs `input_ids` [B, T] at positions cache.length() .. + T - 1, appends their keys and values, and returns
  // the logits [B, T, V] (host). attention_mask, when given, is i32 [B, T] for these new positions.
  // With `attention_probs`, each layer's attention probabilities [B, Hq, T, S] (S = keys so far) are returned
  // in it (the attention-map probe).
  Tensor forward_cached(const Tensor& input_ids, KvCache& cache, const Tensor& attention_mask = {},
                        std::vector<Tensor>* attention_probs = nullptr);

  // Bytes of the activation buffers a training step of this shape allocates (the figure estimates show).
  // Saturates at INT64_MAX for shapes too large to count.
  static int64_t activation_bytes(const ModelConfig& config, int64_t batch, int64_t seq_len, DType dtype);
  // The same for one inference forward (forward_cached) of batch x seq_len new positions.
  static int64_t inference_activation_bytes(const ModelConfig& config, int64_t batch, int64_t seq_len,
                                            DType dtype);
  // Bytes the current training plan holds (0 before the first forward).
  int64_t allocated_activation_bytes() const;

 private:
  struct Plan;
  struct LayerState;
  Plan& ensure_plan(int64_t batch, int64_t seq_len, bool for_training);
  void layer_forward(int64_t layer, LayerState& state, Plan& plan, bool training, uint64_t dropout_seed,
                     KvCache* cache);
  void attention_forward(int64_t layer, LayerState& state, Plan& plan, bool training, uint64_t dropout_seed,
                         KvCache* cache);
  void ffn_forward(int64_t layer, LayerState& state, Plan& plan, bool training, uint64_t dropout_seed);
  void moe_forward(int64_t layer, LayerState& state, Plan& plan, bool training, uint64_t dropout_seed);
  void layer_backward(int64_t layer, LayerState& state, Plan& plan);
  void ffn_backward(int64_t layer, LayerState& state, Plan& plan);
  void moe_backward(int64_t layer, LayerState& state, Plan& plan);
  void attention_backward(int64_t layer, LayerState& state, Plan& plan);

  ModelConfig config_;
  Backend& backend_;
  DType dtype_;
  ParameterLayout layout_;
  ParameterSet parameters_;
  ParameterSet gradients_;
  Tensor rope_cos_, rope_sin_;
  std::unique_ptr<Plan> train_plan_, infer_plan_;
  ExpertLoad expert_load_;
  // The last training forward, for the backward.
  bool have_forward_ = false;
  bool last_training_ = false;
  uint64_t last_dropout_seed_ = 0;
  double last_scored_ = 0;
  double backward_scale_ = 1;
};

}  // namespace minimind
