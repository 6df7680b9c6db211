// The op interface the model is written against. A backend (cpu/, later cuda/) implements each op's
// forward and backward for its device. Model code never branches on the device.
//
// Conventions, for every op:
// - Tensors are contiguous, row-major. Floating tensors of one call share one dtype: f32, or f64 where the
//   backend supports it (the CPU backend does, for finite-difference checks). Indices are i32.
// - N is the number of token rows (batch * sequence), H the hidden size, D the head dim.
// - Parameter gradients accumulate (+=). Activation gradients are overwritten (=) unless the op says +=.
// - Shapes and dtypes are checked on entry; a mismatch throws std::invalid_argument naming the argument.
#pragma once

#include <cstdint>

#include "backend/dropout_mask.h"
#include "tensor/tensor.h"

namespace minimind {

struct AttentionOptions {
  int64_t num_keys = 0;      // S: keys 0..S-1 of k/v are valid (k/v may hold more rows, e.g. a KV cache)
  int64_t query_offset = 0;  // position of query row 0 among the keys; causal: query t sees keys <= offset + t
  double scale = 1.0;        // applied to q.k, usually 1/sqrt(D)
  Dropout dropout;           // on the attention probabilities (training only)
};

struct AdamWOptions {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  int64_t step = 1;  // 1-based, for the bias corrections
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  // ---- memory ----
  virtual Tensor empty(Shape shape, DType dtype) = 0;
  virtual void zero(Tensor& t) = 0;
  virtual void copy(const Tensor& src, Tensor& dst) = 0;  // same dtype and element count; any devices
  virtual Tensor to_host(const Tensor& t) = 0;

  // ---- elementwise and reductions ----
  virtual void add(Tensor& y, const Tensor& x) = 0;       // y += x
  virtual void scale(Tensor& y, double factor) = 0;       // y *= factor
  virtual double sum_squares(const Tensor& x) = 0;        // sum of x^2, accumulated in double
  // Inverted dropout in place: x *= keep(i) / (1 - p). The same call is the backward on the gradient.
  virtual void dropout(Tensor& x, const Dropout& dropout) = 0;

  // ---- matmul ----
  // out = op(a) @ op(b) (+ out when accumulate), op = transpose when asked. a, b, out are 2-D.
  // A linear layer y = x W^T is matmul(x, false, W, true, y).
  virtual void matmul(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b, Tensor& out,
                      bool accumulate) = 0;

  // ---- embedding ----
  // out[n] = table[ids[n]]; ids i32 [N], table [V, H], out [N, H]. Ids outside [0, V) throw.
  virtual void embedding_forward(const Tensor& ids, const Tensor& table, Tensor& out) = 0;
  // d_table[ids[n]] += d_out[n]
  virtual void embedding_backward(const Tensor& ids, const Tensor& d_out, Tensor& d_table) = 0;

  // ---- rmsnorm ----
  // y = weight * x * rstd, rstd[n] = 1 / sqrt(mean(x[n]^2) + eps), computed in at least fp32.
  // x, y [N, H], weight [H], rstd [N] (saved for the backward).
  virtual void rmsnorm_forward(const Tensor& x, const Tensor& weight, double eps, Tensor& y, Tensor& rstd) = 0;
  // d_x += ..., d_weight += ...
  virtual void rmsnorm_backward(const Tensor& d_y, const Tensor& x, const Tensor& weight, const Tensor& rstd,
                                Tensor& d_x, Tensor& d_weight) = 0;

  // ---- rope + qkv split ----
  // qkv [B, T, (Hq + 2 Hkv) D] is the fused projection (q heads, then k heads, then v heads).
  // Writes q [B, T, Hq, D] and rows kv_offset .. kv_offset+T of k, v [B, S_cap, Hkv, D], with the rotary
  // embedding (rotate-half convention) applied to q and k at positions kv_offset + t:
  //   out = x * cos[p] + rotate_half(x) * sin[p], rotate_half(x) = (-x[D/2:], x[:D/2]).
  // cos, sin [P, D] tables, P > kv_offset + T - 1.
  virtual void rope_split_forward(const Tensor& qkv, const Tensor& cos, const Tensor& sin, int64_t kv_offset,
                                  Tensor& q, Tensor& k, Tensor& v) = 0;
  // The transpose of the above (kv_offset 0, S_cap = T): d_qkv = merge(rope^T(d_q), rope^T(d_k), d_v).
  virtual void rope_split_backward(const Tensor& d_q, const Tensor& d_k, const Tensor& d_v, const Tensor& cos,
                                   const Tensor& sin, Tensor& d_qkv) = 0;

  // ---- attention ----
  // Causal grouped-query attention; query head h reads kv head h / (Hq / Hkv).
  // q [B, T, Hq, D]; k, v [B, S_cap, Hkv, D] with S = options.num_keys <= S_cap valid rows;
  // key_mask: undefined (no padding) or i32 [B, S_cap], 0 marks a padded key whose score gets -1e9 added;
  // out [B, T, Hq, D]; probs [B, Hq, T, S] is written when defined (softmax after masking, before dropout),
  // and only where key s <= offset + t: the rest is left unspecified and never read.
  virtual void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                                 const AttentionOptions& options, Tensor& out, Tensor& probs) = 0;
  // Training shapes only (S = S_cap = T, offset 0). d_q, d_k, d_v are overwritten.
  virtual void attention_backward(const Tensor& d_out, const Tensor& q, const Tensor& k, const Tensor& v,
                                  const Tensor& probs, const AttentionOptions& options, Tensor& d_q,
                                  Tensor& d_k, Tensor& d_v) = 0;

  // ---- swiglu ----
  // gate_up [N, 2I] holds gate in columns [0, I) and up in [I, 2I); out [N, I] = silu(gate) * up.
  virtual void swiglu_forward(const Tensor& gate_up, Tensor& out) = 0;
  virtual void swiglu_backward(const Tensor& d_out, const Tensor& gate_up, Tensor& d_gate_up) = 0;

  // ---- cross entropy ----
  // losses[n] = logsumexp(logits[n]) - logits[n, targets[n]]; logits [N, V], targets i32 [N] in [0, V),
  // losses and logsumexp [N] (logsumexp saved for the backward).
  virtual void cross_entropy_forward(const Tensor& logits, const Tensor& targets, Tensor& losses,
                                     Tensor& logsumexp) = 0;
  // d_logits[n] = d_losses[n] * (softmax(logits[n]) - onehot(targets[n])). d_logits may be logits itself.
  virtual void cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& logsumexp,
                                      const Tensor& d_losses, Tensor& d_logits) = 0;

  // ---- mixture of experts ----
  // Router: scores = softmax(logits) [N, E]; the top-k experts per row (ties to the lower index) in
  // topk_index i32 [N, K] (descending score) and their weights topk_weight [N, K], divided by their sum
  // (+1e-20) when normalize and K > 1.
  virtual void moe_router_forward(const Tensor& logits, bool normalize, Tensor& scores, Tensor& topk_index,
                                  Tensor& topk_weight) = 0;
  // d_logits = softmax backward of (d_scores + the path through topk_weight). d_scores [N, E] may be
  // undefined (no aux loss).
  virtual void moe_router_backward(const Tensor& d_topk_weight, const Tensor& d_scores, const Tensor& scores,
                                   const Tensor& topk_index, bool normalize, Tensor& d_logits) = 0;
  // Load-balancing loss over B sequences of T rows (N = B T), times alpha:
  //   seq_aux: mean over b of sum_e (count_be * E / (T K)) * mean_t scores[b, t, e]
  //   else:    sum_e (count_e / (N K) * E) * mean_n scores[n, e]
  // Counts come from topk_index and carry no gradient.
  virtual double moe_aux_loss_forward(const Tensor& scores, const Tensor& topk_index, int64_t batch,
                                      bool seq_aux, double alpha) = 0;
  // d_scores = d_aux * d(aux)/d(scores) (overwritten).
  virtual void moe_aux_loss_backward(const Tensor& topk_index, int64_t batch, bool seq_aux, double alpha,
                                     double d_aux, Tensor& d_scores) = 0;
  // Dispatch plan: rows sorted by expert. expert_offsets i32 [E + 1] (expert e owns sorted rows
  // [offsets[e], offsets[e+1])), slot_of i32 [N, K] (the sorted row of each (n, k)); stable: within an
  // expert, rows keep the order of n, then k.
  virtual void moe_plan(const Tensor& topk_index, int64_t num_experts, Tensor& expert_offsets,
                        Tensor& slot_of) = 0;
  // sorted[slot_of[n, k]] = x[n]; x [N, H], sorted [N K, H]
  virtual void moe_gather(const Tensor& x, const Tensor& slot_of, Tensor& sorted) = 0;
  // d_x[n] += sum_k d_sorted[slot_of[n, k]]
  virtual void moe_gather_backward(const Tensor& d_sorted, const Tensor& slot_of, Tensor& d_x) = 0;
  // y[n] += sum_k topk_weight[n, k] * expert_out[slot_of[n, k]]
  virtual void moe_combine_forward(const Tensor& expert_out, const Tensor& topk_weight, const Tensor& slot_of,
                                   Tensor& y) = 0;
  // d_expert_out[slot] = w * d_y[n]; d_topk_weight[n, k] = d_y[n] . expert_out[slot] (both overwritten)
  virtual void moe_combine_backward(const Tensor& d_y, const Tensor& expert_out, const Tensor& topk_weight,
                                    const Tensor& slot_of, Tensor& d_expert_out, Tensor& d_topk_weight) = 0;

  // ---- optimizer ----
  // Decoupled AdamW over whole buffers: p -= lr * (m_hat / (sqrt(v_hat) + eps) + wd * p).
  virtual void adamw_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v,
                          const AdamWOptions& options) = 0;
};

}  // namespace minimind
