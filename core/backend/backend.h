// The op interface the model is written against. A backend (cpu/, cuda/) implements each op's forward and
// backward for its device; model code never branches on the device.
//
// The public ops are non-virtual: each checks its arguments once, here (backend.cpp), and then calls the
// backend's protected do_ op, which may assume them valid. A mismatch throws std::invalid_argument naming
// the op, the argument, what was expected and what was found.
//
// Conventions, for every op:
// - Tensors are contiguous, row-major, on the backend's device (copy and to_host move between devices).
//   Indices are i32. N is the number of token rows (batch * sequence), H the hidden size, D the head dim.
// - Dtypes follow the roles of precision.h: C the compute dtype of the call (f32 or f64 on the CPU; f32 or
//   bf16 on the GPU), G = S = wide_dtype(C) for parameter gradients and statistics, f64 for step scalars.
//   Each op says which argument has which role; C is taken from its first compute operand.
// - Parameter gradients accumulate (+=). Activation gradients are overwritten (=) unless the op says +=.
// - No op returns a value computed on the device and no op reads device data on the host: reductions land
//   in device tensors (step scalars), read back by the caller only when it needs them.
// - Ops are asynchronous with respect to the host on a device backend: they are queued in order on the
//   backend's stream. to_host and synchronize wait.
// - Indices (token ids, targets, expert ids) are trusted: the caller checks them once on the host, where
//   they are made (model.forward checks each batch). An out-of-range index is undefined behaviour here.
#pragma once

#include <cstdint>
#include <string>

#include "backend/dropout_mask.h"
#include "backend/precision.h"
#include "backend/step_scalars.h"
#include "backend/token_filters.h"
#include "tensor/tensor.h"

namespace minimind {

struct AttentionOptions {
  int64_t num_keys = 0;      // S: keys 0..S-1 of k/v are valid (k/v may hold more rows, e.g. a KV cache)
  int64_t query_offset = 0;  // position of query row 0 among the keys; causal: query t sees keys <= offset + t
  double scale = 1.0;        // applied to q.k, usually 1/sqrt(D)
  Dropout dropout;           // on the attention probabilities (training only)
};

// The constant hyper-parameters of AdamW; the learning rate and step count change per step and come from
// the step's control scalars.
struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

// The same weight of every routed expert of one layer: `count` matrices of `shape` [out, in], expert e's at
// element e * stride of `block` (a flat view from expert 0's matrix to the end of the last one's).
struct ExpertWeights {
  Tensor block;
  Shape shape;
  int64_t stride = 0;
  int64_t count = 0;
  Tensor expert(int64_t e) const { return block.flat(e * stride, shape); }
};

// What a device reports about itself (the CPU reports the host's memory).
struct DeviceInfo {
  std::string name;        // "NVIDIA H100 80GB HBM3", or the CPU's model name
  int64_t total_bytes = 0;
  int64_t free_bytes = 0;  // at the time of the call
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual DeviceInfo device_info() = 0;
  // Whether this backend computes in `dtype` (CPU: f32 and f64; CUDA: f32 and bf16).
  virtual bool supports_compute(DType dtype) const = 0;

  // ---- memory ----
  virtual Tensor empty(Shape shape, DType dtype) = 0;  // on the backend's device, uninitialized
  virtual void synchronize() = 0;                      // waits until every queued op has finished
  // t = 0
  void zero(Tensor& t);
  // dst = src, between any devices; floating dtypes convert (f64/f32/bf16, rounding to nearest even),
  // other dtypes must match. Element counts must match.
  void copy(const Tensor& src, Tensor& dst);
  // A host copy of t (waits for the queued ops that write t). The CPU backend returns t itself.
  virtual Tensor to_host(const Tensor& t) = 0;

  // ---- elementwise and reductions (C, or any floating dtype) ----
  void add(Tensor& y, const Tensor& x);  // y += x
  void scale(Tensor& y, double factor);  // y *= factor
  // out (f64 [1]) = sum of x^2, accumulated in at least f32 per element block and f64 across them.
  void sum_squares(const Tensor& x, Tensor& out);
  // Inverted dropout in place: x *= keep(i) / (1 - p). The same call is the backward on the gradient.
  void dropout(Tensor& x, const Dropout& dropout);

  // ---- matmul ----
  // out = op(a) @ op(b) (+ out when accumulate), op = transpose when asked. a, b, out are 2-D; a and b
  // share a dtype; out has it too, or is f32 when a and b are bf16 (accumulated in f32 either way).
  // A linear layer y = x W^T is matmul(x, false, W, true, y).
  void matmul(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b, Tensor& out,
              bool accumulate);

  // ---- embedding ----
  // out[n] = table[ids[n]]; ids i32 [N], table C [V, H], out C [N, H].
  void embedding_forward(const Tensor& ids, const Tensor& table, Tensor& out);
  // d_table[ids[n]] += d_out[n]; d_out C, d_table G.
  void embedding_backward(const Tensor& ids, const Tensor& d_out, Tensor& d_table);

  // ---- rmsnorm ----
  // y = weight * x * rstd, rstd[n] = 1 / sqrt(mean(x[n]^2) + eps) computed in S.
  // x, y C [N, H], weight C [H], rstd S [N] (saved for the backward).
  void rmsnorm_forward(const Tensor& x, const Tensor& weight, double eps, Tensor& y, Tensor& rstd);
  // d_x C += ..., d_weight G += ...
  void rmsnorm_backward(const Tensor& d_y, const Tensor& x, const Tensor& weight, const Tensor& rstd, Tensor& d_x,
                        Tensor& d_weight);

  // ---- rope + qkv split ----
  // qkv C [B, T, (Hq + 2 Hkv) D] is the fused projection (q heads, then k heads, then v heads).
  // Writes q C [B, T, Hq, D] and rows kv_offset .. kv_offset+T of k, v C [B, S_cap, Hkv, D], with the rotary
  // embedding (rotate-half convention) applied to q and k at positions kv_offset + t:
  //   out = x * cos[p] + rotate_half(x) * sin[p], rotate_half(x) = (-x[D/2:], x[:D/2]).
  // cos, sin S [P, D] tables, P > kv_offset + T - 1.
  void rope_split_forward(const Tensor& qkv, const Tensor& cos, const Tensor& sin, int64_t kv_offset, Tensor& q,
                          Tensor& k, Tensor& v);
  // The transpose of the above (kv_offset 0, S_cap = T): d_qkv = merge(rope^T(d_q), rope^T(d_k), d_v).
  void rope_split_backward(const Tensor& d_q, const Tensor& d_k, const Tensor& d_v, const Tensor& cos,
                           const Tensor& sin, Tensor& d_qkv);

  // ---- attention ----
  // Causal grouped-query attention; query head h reads kv head h / (Hq / Hkv).
  // q C [B, T, Hq, D]; k, v C [B, S_cap, Hkv, D] with S = options.num_keys <= S_cap valid rows;
  // key_mask: undefined (no padding) or i32 [B, S_cap], 0 marks a padded key whose score gets -1e9 added;
  //   P = softmax(scale q k^T + mask over keys s <= offset + t), out C [B, T, Hq, D] = dropout(P) v.
  // lse S [B, Hq, T] (the row log-sum-exp of the scaled, masked scores) is written when defined: the
  // backward recomputes P from it.
  void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                         const AttentionOptions& options, Tensor& out, Tensor& lse);
  // The probabilities alone, for the attention-map probe: probs S [B, Hq, T, S] (after masking, before
  // dropout), written where s <= offset + t and zero elsewhere.
  void attention_probs(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                       const AttentionOptions& options, Tensor& probs);
  // Training shapes only (S = S_cap = T, offset 0), with out and lse of the forward. d_q, d_k, d_v C are
  // overwritten.
  void attention_backward(const Tensor& d_out, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                          const Tensor& lse, const Tensor& key_mask, const AttentionOptions& options, Tensor& d_q,
                          Tensor& d_k, Tensor& d_v);

  // ---- swiglu ----
  // gate_up C [N, 2I] holds gate in columns [0, I) and up in [I, 2I); out C [N, I] = silu(gate) * up.
  void swiglu_forward(const Tensor& gate_up, Tensor& out);
  void swiglu_backward(const Tensor& d_out, const Tensor& gate_up, Tensor& d_gate_up);

  // ---- cross entropy and the loss ----
  // losses[n] = logsumexp(logits[n]) - logits[n, targets[n]]; logits C [N, V], targets i32 [N] in [0, V),
  // losses and logsumexp S [N] (logsumexp saved for the backward).
  void cross_entropy_forward(const Tensor& logits, const Tensor& targets, Tensor& losses, Tensor& logsumexp);
  // d_logits[n] = d_losses[n] * (softmax(logits[n]) - onehot(targets[n])); d_losses S. d_logits may be logits.
  void cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& logsumexp,
                              const Tensor& d_losses, Tensor& d_logits);
  // totals f64 [kLossTotalsSize]: writes kTotalsWeightedLoss = sum losses[n] * mask[n] and kTotalsScored =
  // sum mask[n] (leaves kTotalsAuxLoss). losses S [N]; loss_mask S [N], or undefined for all ones.
  void masked_loss_totals(const Tensor& losses, const Tensor& loss_mask, Tensor& totals);
  // d_losses S [N] = scale[0] * mask[n] / totals[kTotalsScored] (0 when nothing is scored); scale f64 [1].
  void masked_loss_backward(const Tensor& loss_mask, const Tensor& totals, const Tensor& scale, Tensor& d_losses);

  // ---- mixture of experts ----
  // Router: scores S [N, E] = softmax(logits S [N, E]); the top-k experts per row (ties to the lower index)
  // in topk_index i32 [N, K] (descending score) and their weights topk_weight S [N, K], divided by their sum
  // (+1e-20) when normalize and K > 1.
  void moe_router_forward(const Tensor& logits, bool normalize, Tensor& scores, Tensor& topk_index,
                          Tensor& topk_weight);
  // d_logits S = softmax backward of (d_scores + the path through topk_weight). d_scores S [N, E] may be
  // undefined (no aux loss).
  void moe_router_backward(const Tensor& d_topk_weight, const Tensor& d_scores, const Tensor& scores,
                           const Tensor& topk_index, bool normalize, Tensor& d_logits);
  // Load-balancing loss over B sequences of T rows (N = B T), times alpha, ADDED to aux f64 [1]:
  //   seq_aux: mean over b of sum_e (count_be * E / (T K)) * mean_t scores[b, t, e]
  //   else:    sum_e (count_e / (N K) * E) * mean_n scores[n, e]
  // Counts come from topk_index and carry no gradient.
  void moe_aux_loss_forward(const Tensor& scores, const Tensor& topk_index, int64_t batch, bool seq_aux,
                            double alpha, Tensor& aux);
  // d_scores S = d_aux[0] * d(aux)/d(scores) (overwritten); d_aux f64 [1].
  void moe_aux_loss_backward(const Tensor& topk_index, int64_t batch, bool seq_aux, double alpha,
                             const Tensor& d_aux, Tensor& d_scores);
  // Dispatch plan: rows sorted by expert. expert_offsets i32 [E + 1] (expert e owns sorted rows
  // [offsets[e], offsets[e+1])), slot_of i32 [N, K] (the sorted row of each (n, k)); stable: within an
  // expert, rows keep the order of n, then k.
  void moe_plan(const Tensor& topk_index, int64_t num_experts, Tensor& expert_offsets, Tensor& slot_of);
  // sorted[slot_of[n, k]] = x[n]; x C [N, H], sorted C [N K, H]
  void moe_gather(const Tensor& x, const Tensor& slot_of, Tensor& sorted);
  // d_x[n] += sum_k d_sorted[slot_of[n, k]]
  void moe_gather_backward(const Tensor& d_sorted, const Tensor& slot_of, Tensor& d_x);
  // y[n] += sum_k topk_weight[n, k] * expert_out[slot_of[n, k]]; expert_out, y C, topk_weight S
  void moe_combine_forward(const Tensor& expert_out, const Tensor& topk_weight, const Tensor& slot_of, Tensor& y);
  // d_expert_out C [slot] = w * d_y[n]; d_topk_weight S [n, k] = d_y[n] . expert_out[slot] (both overwritten)
  void moe_combine_backward(const Tensor& d_y, const Tensor& expert_out, const Tensor& topk_weight,
                            const Tensor& slot_of, Tensor& d_expert_out, Tensor& d_topk_weight);
  // The experts' linear layers over the expert-sorted rows, all experts in one call (a grouped product):
  // out[r] = x[r] W_e^T for the rows r of expert e (expert_offsets as from moe_plan, on the device).
  // x C [R, in], weights C of shape [out, in], out C [R, out] (overwritten; rows past offsets[E] untouched).
  void expert_matmul(const Tensor& x, const ExpertWeights& weights, const Tensor& expert_offsets, Tensor& out);
  // Its backward: d_x C [R, in] = d_out W_e per expert's rows (overwritten), d_weights G += d_out_e^T x_e.
  void expert_matmul_backward(const Tensor& d_out, const Tensor& x, const ExpertWeights& weights,
                              const Tensor& expert_offsets, Tensor& d_x, const ExpertWeights& d_weights);

  // ---- sampling ----
  // The next token of each sequence from its row of logits, on the device, as the host Sampler picks it: the
  // repetition penalty on the ids marked in seen, then the argmax when greedy, else temperature, top-k, top-p
  // and the first id whose cumulative probability (in id order) exceeds uniforms[r] times the total.
  // logits C or S [R, V]; seen i32 [R, V] (nonzero: in the sequence's context); uniforms f64 [R] in [0, 1)
  // (undefined when greedy); ids i32 [R] (overwritten). Each drawn id is then marked in seen. A row holding
  // a NaN gets id -1, as does a sampled (not greedy) row whose largest logit is not finite.
  void sample_tokens(const Tensor& logits, const TokenFilters& filters, const Tensor& uniforms, Tensor& seen,
                     Tensor& ids);

  // ---- the optimizer step ----
  // Judges the step on the device before any update: from the gradients' sum of squares (f64 [1]), the
  // loss totals of its M micro-steps (f64 [M, kLossTotalsSize]) and the control scalars (f64
  // [kStepControlSize]), writes result (f64 [kStepResultSize]): the mean loss and aux loss, the gradient
  // norm, the clip factor (max_norm / (norm + 1e-6) when below 1, as torch's clip_grad_norm_) and whether to
  // apply: the loss and the norm finite and at most their limits.
  void update_decision(const Tensor& sum_squares, const Tensor& micro_totals, const Tensor& control,
                       Tensor& result);
  // Decoupled AdamW over a range of the parameter buffer, when result[kResultApplied] is 1 (else nothing):
  //   g = grads * clip, m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
  //   p -= lr * (m_hat / (sqrt(v_hat) + eps) + wd * p), lr and the step count from control.
  // params, grads, m, v G; compute_params (the narrower compute copy of params, C) is refreshed from the
  // updated params when defined.
  void adamw_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v, const AdamWOptions& options,
                  const Tensor& control, const Tensor& result, Tensor& compute_params);

 protected:
  // Each public op above calls its do_ counterpart after checking the arguments.
  virtual void do_zero(Tensor& t) = 0;
  virtual void do_copy(const Tensor& src, Tensor& dst) = 0;
  virtual void do_add(Tensor& y, const Tensor& x) = 0;
  virtual void do_scale(Tensor& y, double factor) = 0;
  virtual void do_sum_squares(const Tensor& x, Tensor& out) = 0;
  virtual void do_dropout(Tensor& x, const Dropout& dropout) = 0;
  virtual void do_matmul(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b, Tensor& out,
                         bool accumulate) = 0;
  virtual void do_embedding_forward(const Tensor& ids, const Tensor& table, Tensor& out) = 0;
  virtual void do_embedding_backward(const Tensor& ids, const Tensor& d_out, Tensor& d_table) = 0;
  virtual void do_rmsnorm_forward(const Tensor& x, const Tensor& weight, double eps, Tensor& y, Tensor& rstd) = 0;
  virtual void do_rmsnorm_backward(const Tensor& d_y, const Tensor& x, const Tensor& weight, const Tensor& rstd,
                                   Tensor& d_x, Tensor& d_weight) = 0;
  virtual void do_rope_split_forward(const Tensor& qkv, const Tensor& cos, const Tensor& sin, int64_t kv_offset,
                                     Tensor& q, Tensor& k, Tensor& v) = 0;
  virtual void do_rope_split_backward(const Tensor& d_q, const Tensor& d_k, const Tensor& d_v, const Tensor& cos,
                                      const Tensor& sin, Tensor& d_qkv) = 0;
  virtual void do_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                                    const AttentionOptions& options, Tensor& out, Tensor& lse) = 0;
  virtual void do_attention_probs(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                                  const AttentionOptions& options, Tensor& probs) = 0;
  virtual void do_attention_backward(const Tensor& d_out, const Tensor& q, const Tensor& k, const Tensor& v,
                                     const Tensor& out, const Tensor& lse, const Tensor& key_mask,
                                     const AttentionOptions& options, Tensor& d_q, Tensor& d_k, Tensor& d_v) = 0;
  virtual void do_swiglu_forward(const Tensor& gate_up, Tensor& out) = 0;
  virtual void do_swiglu_backward(const Tensor& d_out, const Tensor& gate_up, Tensor& d_gate_up) = 0;
  virtual void do_cross_entropy_forward(const Tensor& logits, const Tensor& targets, Tensor& losses,
                                        Tensor& logsumexp) = 0;
  virtual void do_cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& logsumexp,
                                         const Tensor& d_losses, Tensor& d_logits) = 0;
  virtual void do_masked_loss_totals(const Tensor& losses, const Tensor& loss_mask, Tensor& totals) = 0;
  virtual void do_masked_loss_backward(const Tensor& loss_mask, const Tensor& totals, const Tensor& scale,
                                       Tensor& d_losses) = 0;
  virtual void do_moe_router_forward(const Tensor& logits, bool normalize, Tensor& scores, Tensor& topk_index,
                                     Tensor& topk_weight) = 0;
  virtual void do_moe_router_backward(const Tensor& d_topk_weight, const Tensor& d_scores, const Tensor& scores,
                                      const Tensor& topk_index, bool normalize, Tensor& d_logits) = 0;
  virtual void do_moe_aux_loss_forward(const Tensor& scores, const Tensor& topk_index, int64_t batch, bool seq_aux,
                                       double alpha, Tensor& aux) = 0;
  virtual void do_moe_aux_loss_backward(const Tensor& topk_index, int64_t batch, bool seq_aux, double alpha,
                                        const Tensor& d_aux, Tensor& d_scores) = 0;
  virtual void do_moe_plan(const Tensor& topk_index, int64_t num_experts, Tensor& expert_offsets,
                           Tensor& slot_of) = 0;
  virtual void do_moe_gather(const Tensor& x, const Tensor& slot_of, Tensor& sorted) = 0;
  virtual void do_moe_gather_backward(const Tensor& d_sorted, const Tensor& slot_of, Tensor& d_x) = 0;
  virtual void do_moe_combine_forward(const Tensor& expert_out, const Tensor& topk_weight, const Tensor& slot_of,
                                      Tensor& y) = 0;
  virtual void do_moe_combine_backward(const Tensor& d_y, const Tensor& expert_out, const Tensor& topk_weight,
                                       const Tensor& slot_of, Tensor& d_expert_out, Tensor& d_topk_weight) = 0;
  virtual void do_expert_matmul(const Tensor& x, const ExpertWeights& weights, const Tensor& expert_offsets,
                                Tensor& out) = 0;
  virtual void do_expert_matmul_backward(const Tensor& d_out, const Tensor& x, const ExpertWeights& weights,
                                         const Tensor& expert_offsets, Tensor& d_x,
                                         const ExpertWeights& d_weights) = 0;
  virtual void do_sample_tokens(const Tensor& logits, const TokenFilters& filters, const Tensor& uniforms,
                                Tensor& seen, Tensor& ids) = 0;
  virtual void do_update_decision(const Tensor& sum_squares, const Tensor& micro_totals, const Tensor& control,
                                  Tensor& result) = 0;
  virtual void do_adamw_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v, const AdamWOptions& options,
                             const Tensor& control, const Tensor& result, Tensor& compute_params) = 0;
};

}  // namespace minimind
