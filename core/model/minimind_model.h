// The MiniMind network, written once against the Backend op interface: embedding, pre-norm blocks of
// (RMSNorm -> GQA attention with RoPE -> residual -> RMSNorm -> SwiGLU FFN or MoE -> residual), a final
// RMSNorm and the tied LM head; the masked mean cross-entropy plus the MoE load-balancing loss; the exact
// backward; and an inference path with a KV cache. Activations are planned from (batch, seq_len) up front.
// Nothing is read back to the host inside forward_async and backward: losses, the aux loss and the dispatch
// plan stay on the device until a caller asks for them.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "config/model_config.h"
#include "model/parameters.h"
#include "model/rope_table.h"

namespace minimind {

// A batch on the host. targets[b, t] is the id predicted at position t; loss_mask (optional, f32 or f64,
// 1 = scored) and attention_mask (optional, i32, 0 = padded key) are [B, T].
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

// Per layer, the share of routed (token, k) slots each expert received in a forward.
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
  std::vector<Tensor> keys, values;  // per layer [B, capacity, Hkv, D], compute dtype
  Tensor key_mask;                   // i32 [B, capacity] on the backend's device
  Tensor host_key_mask;              // its host copy, updated as positions arrive
  bool has_padding = false;
};

class MiniMindModel {
 public:
  // `precision` gives each role its dtype (backend/precision.h): f32, or f64 for gradient checks, on the CPU;
  // f32 or bf16_mixed on the GPU. A compute dtype the backend does not support is refused
  // (std::invalid_argument naming both).
  MiniMindModel(const ModelConfig& config, Backend& backend, Precision precision = Precision::f32());
  ~MiniMindModel();
  MiniMindModel(const MiniMindModel&) = delete;
  MiniMindModel& operator=(const MiniMindModel&) = delete;

  const ModelConfig& config() const { return config_; }
  Backend& backend() const { return backend_; }
  const Precision& precision() const { return precision_; }
  const ParameterLayout& layout() const { return layout_; }
  // The master weights (precision.master()): what AdamW updates, checkpoints save and snapshots copy.
  ParameterSet& parameters() { return parameters_; }
  const ParameterSet& parameters() const { return parameters_; }
  // The weights the ops read: the master weights themselves, or their copy in the compute dtype when the
  // precision keeps one (bf16). init_weights, load_weights and AdamW's step refresh it; whoever writes
  // parameters() otherwise calls refresh_compute_weights() before the next forward.
  const ParameterSet& compute_weights() const;
  // The compute copy for the optimizer to refresh as it updates, or null when the ops read the master
  // weights.
  ParameterSet* compute_copy();
  void refresh_compute_weights();
  ParameterSet& gradients();  // allocated (zeroed) on first use, in precision.gradient()

  // The seed's initialisation: linear layers (and the tied embedding) U(-1/sqrt(in), 1/sqrt(in)), norms 1.
  void init_weights(uint64_t seed);

  // Queues the forward over a batch, keeping what the backward needs, and reads nothing back: the loss totals
  // land in loss_totals(). `training` enables dropout (masks drawn from `dropout_seed`) and the MoE aux loss.
  // The batch is checked on the host first: shapes, and every input id and target in [0, vocab_size).
  void forward_async(const Batch& batch, bool training, uint64_t dropout_seed = 0);
  // forward_async, then the loss terms read back (one wait for the device).
  LossTerms forward(const Batch& batch, bool training, uint64_t dropout_seed = 0);
  // The last forward's loss totals on the device, f64 [kLossTotalsSize] (backend/step_scalars.h).
  const Tensor& loss_totals() const;
  // Adds d(loss_scale * loss)/d(parameters) to gradients(), for the last forward.
  void backward(double loss_scale = 1.0);
  // [B, T, V] logits of the last forward in the compute dtype (a view of the model's device buffer,
  // overwritten by the backward).
  Tensor logits() const;
  // The share of routed slots per expert in the last forward (training or cached), read back from the
  // device's dispatch plan now; empty without MoE or before any forward.
  ExpertLoad expert_load() const;

  // ---- inference with a KV cache ----
  KvCache make_cache(int64_t batch, int64_t capacity) const;
  // Runs `input_ids` [B, T] at positions cache.length() .. + T - 1, appends their keys and values, and
  // returns the logits [B, T, V] on the host in the statistic dtype (f32, or f64 with f64 compute).
  // attention_mask, when given, is i32 [B, T] for these new positions. With `attention_probs`, each layer's
  // attention probabilities [B, Hq, T, S] (S = keys so far) are returned in it on the host (the attention-map
  // probe).
  Tensor forward_cached(const Tensor& input_ids, KvCache& cache, const Tensor& attention_mask = {},
                        std::vector<Tensor>* attention_probs = nullptr);
  // The same forward, keeping on the device only what the next token needs: each sequence's logits at its
  // last new position, C [B, V] in the compute dtype, valid until the next forward. Nothing is read back.
  const Tensor& forward_cached_last(const Tensor& input_ids, KvCache& cache,
                                    const Tensor& attention_mask = {});

  // Bytes of the buffers a training step of this shape plans (the figure estimates show), each role in its
  // dtype for the compute dtype `compute` (statistics in wide_dtype(compute)). Saturates at INT64_MAX for
  // shapes too large to count.
  static int64_t activation_bytes(const ModelConfig& config, int64_t batch, int64_t seq_len, DType compute);
  // The same for one inference forward (forward_cached) of batch x seq_len new positions.
  static int64_t inference_activation_bytes(const ModelConfig& config, int64_t batch, int64_t seq_len,
                                            DType compute);
  // Bytes the current training plan holds (0 before the first forward).
  int64_t allocated_activation_bytes() const;
  // Every buffer the model holds on its device: master weights, their compute copy, gradients, RoPE tables
  // and both plans (training and inference).
  int64_t allocated_bytes() const;

  // Defined in model_plan.h, internal to the model's sources.
  struct Plan;
  struct LayerState;

 private:
  Plan& ensure_plan(int64_t batch, int64_t seq_len, bool for_training);
  Dropout dropout_at(const Plan& plan, int64_t layer, uint64_t place) const;
  void layer_forward(int64_t layer, LayerState& state, Plan& plan, bool training, KvCache* cache);
  void attention_forward(int64_t layer, LayerState& state, Plan& plan, bool training, KvCache* cache);
  void ffn_forward(int64_t layer, LayerState& state, Plan& plan, bool training);
  void moe_forward(int64_t layer, LayerState& state, Plan& plan, bool training);
  void layer_backward(int64_t layer, LayerState& state, Plan& plan);
  void ffn_backward(int64_t layer, LayerState& state, Plan& plan);
  void moe_backward(int64_t layer, LayerState& state, Plan& plan);
  void attention_backward(int64_t layer, LayerState& state, Plan& plan);
  // forward_cached up to the logits of every new position, left in the inference plan's buffer.
  Plan& run_cached(const Tensor& input_ids, KvCache& cache, const Tensor& attention_mask,
                   std::vector<Tensor>* attention_probs);

  ModelConfig config_;
  Backend& backend_;
  Precision precision_;
  ParameterLayout layout_;
  ParameterSet parameters_;  // master
  ParameterSet compute_;     // the compute copy, when precision_.separate_compute_weights()
  ParameterSet gradients_;
  Tensor rope_cos_, rope_sin_;  // statistic dtype
  std::unique_ptr<Plan> train_plan_, infer_plan_;
  Tensor last_logits_;               // forward_cached_last's rows after a prefill, C [B, V]
  const Plan* last_plan_ = nullptr;  // of the last forward, for expert_load()
  // The last training forward, for the backward.
  bool have_forward_ = false;   // and no backward of it yet
  bool have_totals_ = false;    // loss_totals() belong to the training plan's last forward
  bool last_training_ = false;  // the aux loss was part of the loss
  bool last_dropout_ = false;
};

}  // namespace minimind
