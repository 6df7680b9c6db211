// The CPU backend: Eigen for matrix products, OpenMP across rows, and every op templated on the scalar so
// that it runs in f32 for training and in f64 for finite-difference checks. Each op lives in its own file
// (rmsnorm.cpp, attention.cpp, ...) with its forward and backward side by side. Every op runs on the
// backend's own OpenMP thread count (an OpenMpThreadScope at its entry), whatever the calling thread's count.
#pragma once

#include "backend/backend.h"

namespace minimind {

class CpuBackend final : public Backend {
 public:
  // threads <= 0: OpenMP's count for the constructing thread (OMP_NUM_THREADS, else every core). The count
  // is this backend's alone: constructing it or running its ops leaves the caller's count as it was.
  explicit CpuBackend(int threads = 0);
  Device device() const override { return Device::cpu; }
  int threads() const { return threads_; }

  Tensor empty(Shape shape, DType dtype) override;
  void zero(Tensor& t) override;
  void copy(const Tensor& src, Tensor& dst) override;
  Tensor to_host(const Tensor& t) override;

  void add(Tensor& y, const Tensor& x) override;
  void scale(Tensor& y, double factor) override;
  double sum_squares(const Tensor& x) override;
  void dropout(Tensor& x, const Dropout& dropout) override;

  void matmul(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b, Tensor& out,
              bool accumulate) override;

  void embedding_forward(const Tensor& ids, const Tensor& table, Tensor& out) override;
  void embedding_backward(const Tensor& ids, const Tensor& d_out, Tensor& d_table) override;

  void rmsnorm_forward(const Tensor& x, const Tensor& weight, double eps, Tensor& y, Tensor& rstd) override;
  void rmsnorm_backward(const Tensor& d_y, const Tensor& x, const Tensor& weight, const Tensor& rstd, Tensor& d_x,
                        Tensor& d_weight) override;

  void rope_split_forward(const Tensor& qkv, const Tensor& cos, const Tensor& sin, int64_t kv_offset, Tensor& q,
                          Tensor& k, Tensor& v) override;
  void rope_split_backward(const Tensor& d_q, const Tensor& d_k, const Tensor& d_v, const Tensor& cos,
                           const Tensor& sin, Tensor& d_qkv) override;

  void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                         const AttentionOptions& options, Tensor& out, Tensor& probs) override;
  void attention_backward(const Tensor& d_out, const Tensor& q, const Tensor& k, const Tensor& v,
                          const Tensor& probs, const AttentionOptions& options, Tensor& d_q, Tensor& d_k,
                          Tensor& d_v) override;

  void swiglu_forward(const Tensor& gate_up, Tensor& out) override;
  void swiglu_backward(const Tensor& d_out, const Tensor& gate_up, Tensor& d_gate_up) override;

  void cross_entropy_forward(const Tensor& logits, const Tensor& targets, Tensor& losses,
                             Tensor& logsumexp) override;
  void cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& logsumexp,
                              const Tensor& d_losses, Tensor& d_logits) override;

  void moe_router_forward(const Tensor& logits, bool normalize, Tensor& scores, Tensor& topk_index,
                          Tensor& topk_weight) override;
  void moe_router_backward(const Tensor& d_topk_weight, const Tensor& d_scores, const Tensor& scores,
                           const Tensor& topk_index, bool normalize, Tensor& d_logits) override;
  double moe_aux_loss_forward(const Tensor& scores, const Tensor& topk_index, int64_t batch, bool seq_aux,
                              double alpha) override;
  void moe_aux_loss_backward(const Tensor& topk_index, int64_t batch, bool seq_aux, double alpha, double d_aux,
                             Tensor& d_scores) override;
  void moe_plan(const Tensor& topk_index, int64_t num_experts, Tensor& expert_offsets, Tensor& slot_of) override;
  void moe_gather(const Tensor& x, const Tensor& slot_of, Tensor& sorted) override;
  void moe_gather_backward(const Tensor& d_sorted, const Tensor& slot_of, Tensor& d_x) override;
  void moe_combine_forward(const Tensor& expert_out, const Tensor& topk_weight, const Tensor& slot_of,
                           Tensor& y) override;
  void moe_combine_backward(const Tensor& d_y, const Tensor& expert_out, const Tensor& topk_weight,
                            const Tensor& slot_of, Tensor& d_expert_out, Tensor& d_topk_weight) override;

  void adamw_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v, const AdamWOptions& options) override;

 private:
  int threads_;
};

}  // namespace minimind
