// The CPU backend: Eigen for matrix products, OpenMP across rows, and every op templated on the scalar so
// that it runs in f32 for training and in f64 for finite-difference checks. Each op lives in its own file
// (rmsnorm.cpp, attention.cpp, ...) with its forward and backward side by side. Every op runs on the
// backend's own OpenMP thread count (an OpenMpThreadScope at its entry), whatever the calling thread's count.
// Ops run synchronously: the step scalars (seeds, offsets, control) are host tensors, read where needed.
#pragma once

#include "backend/backend.h"

namespace minimind {

class CpuBackend final : public Backend {
 public:
  // threads <= 0: OpenMP's count for the constructing thread (OMP_NUM_THREADS, else every core). The count
  // is this backend's alone: constructing it or running its ops leaves the caller's count as it was.
  explicit CpuBackend(int threads = 0);
  Device device() const override { return Device::cpu; }
  // The CPU's model name (/proc/cpuinfo) and the memory this process can use (MemTotal and MemAvailable,
  // bounded by the cgroup's limit).
  DeviceInfo device_info() override;
  bool supports_compute(DType dtype) const override { return dtype == DType::f32 || dtype == DType::f64; }
  int threads() const { return threads_; }

  Tensor empty(Shape shape, DType dtype) override;
  void synchronize() override {}  // every op has finished when it returns
  Tensor to_host(const Tensor& t) override;

 protected:
  void do_zero(Tensor& t) override;
  void do_copy(const Tensor& src, Tensor& dst) override;
  void do_add(Tensor& y, const Tensor& x) override;
  void do_scale(Tensor& y, double factor) override;
  void do_sum_squares(const Tensor& x, Tensor& out) override;
  void do_dropout(Tensor& x, const Dropout& dropout) override;
  void do_matmul(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b, Tensor& out,
                 bool accumulate) override;
  void do_embedding_forward(const Tensor& ids, const Tensor& table, Tensor& out) override;
  void do_embedding_backward(const Tensor& ids, const Tensor& d_out, Tensor& d_table) override;
  void do_rmsnorm_forward(const Tensor& x, const Tensor& weight, double eps, Tensor& y,
                          Tensor& rstd) override;
  void do_rmsnorm_backward(const Tensor& d_y, const Tensor& x, const Tensor& weight, const Tensor& rstd,
                           Tensor& d_x, Tensor& d_weight) override;
  void do_rope_split_forward(const Tensor& qkv, const Tensor& cos, const Tensor& sin, int64_t kv_offset,
                             Tensor& q, Tensor& k, Tensor& v) override;
  void do_rope_split_backward(const Tensor& d_q, const Tensor& d_k, const Tensor& d_v, const Tensor& cos,
                              const Tensor& sin, Tensor& d_qkv) override;
  void do_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                            const AttentionOptions& options, Tensor& out, Tensor& lse) override;
  void do_attention_probs(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                          const AttentionOptions& options, Tensor& probs) override;
  void do_attention_backward(const Tensor& d_out, const Tensor& q, const Tensor& k, const Tensor& v,
                             const Tensor& out, const Tensor& lse, const Tensor& key_mask,
                             const AttentionOptions& options, Tensor& d_q, Tensor& d_k, Tensor& d_v) override;
  void do_swiglu_forward(const Tensor& gate_up, Tensor& out) override;
  void do_swiglu_backward(const Tensor& d_out, const Tensor& gate_up, Tensor& d_gate_up) override;
  void do_cross_entropy_forward(const Tensor& logits, const Tensor& targets, Tensor& losses,
                                Tensor& logsumexp) override;
  void do_cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& logsumexp,
                                 const Tensor& d_losses, Tensor& d_logits) override;
  void do_masked_loss_totals(const Tensor& losses, const Tensor& loss_mask, Tensor& totals) override;
  void do_masked_loss_backward(const Tensor& loss_mask, const Tensor& totals, const Tensor& scale,
                               Tensor& d_losses) override;
  void do_moe_router_forward(const Tensor& logits, bool normalize, Tensor& scores, Tensor& topk_index,
                             Tensor& topk_weight) override;
  void do_moe_router_backward(const Tensor& d_topk_weight, const Tensor& d_scores, const Tensor& scores,
                              const Tensor& topk_index, bool normalize, Tensor& d_logits) override;
  void do_moe_aux_loss_forward(const Tensor& scores, const Tensor& topk_index, int64_t batch, bool seq_aux,
                               double alpha, Tensor& aux) override;
  void do_moe_aux_loss_backward(const Tensor& topk_index, int64_t batch, bool seq_aux, double alpha,
                                const Tensor& d_aux, Tensor& d_scores) override;
  void do_moe_plan(const Tensor& topk_index, int64_t num_experts, Tensor& expert_offsets,
                   Tensor& slot_of) override;
  void do_moe_gather(const Tensor& x, const Tensor& slot_of, Tensor& sorted) override;
  void do_moe_gather_backward(const Tensor& d_sorted, const Tensor& slot_of, Tensor& d_x) override;
  void do_moe_combine_forward(const Tensor& expert_out, const Tensor& topk_weight, const Tensor& slot_of,
                              Tensor& y) override;
  void do_moe_combine_backward(const Tensor& d_y, const Tensor& expert_out, const Tensor& topk_weight,
                               const Tensor& slot_of, Tensor& d_expert_out, Tensor& d_topk_weight) override;
  void do_expert_matmul(const Tensor& x, const ExpertWeights& weights, const Tensor& expert_offsets,
                        Tensor& out) override;
  void do_expert_matmul_backward(const Tensor& d_out, const Tensor& x, const ExpertWeights& weights,
                                 const Tensor& expert_offsets, Tensor& d_x,
                                 const ExpertWeights& d_weights) override;
  void do_sample_tokens(const Tensor& logits, const TokenFilters& filters, const Tensor& uniforms,
                        Tensor& seen, Tensor& ids) override;
  void do_update_decision(const Tensor& sum_squares, const Tensor& micro_totals, const Tensor& control,
                          Tensor& result) override;
  void do_adamw_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v, const AdamWOptions& options,
                     const Tensor& control, const Tensor& result, Tensor& compute_params) override;

 private:
  int threads_;
};

}  // namespace minimind
