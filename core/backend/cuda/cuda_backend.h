// The CUDA backend: one GPU, one stream, cuBLASLt for the products and hand-written kernels for the rest.
// Every op is queued on the backend's stream and returns at once; to_host and synchronize wait. Memory is
// taken with plain cudaMalloc when a tensor is made (the model plans every buffer up front, so nothing is
// allocated inside a step), and the products' workspace and the host staging buffer are allocated once.
// Each op lives in its own .cu file (rmsnorm.cu, attention.cu, ...) with its forward and backward, as the
// CPU backend's do.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "backend/backend.h"

namespace minimind {

// The cached cuBLASLt plans of matmul (matmul.cu), one per shape, freed with the backend.
struct MatmulPlanCache;
struct MatmulPlanCacheDeleter {
  void operator()(MatmulPlanCache* cache) const;
};

class CudaBackend final : public Backend {
 public:
  // Throws DeviceUnavailableError when GPU `index` cannot be used.
  explicit CudaBackend(int index);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  Device device() const override { return Device::cuda; }
  DeviceInfo device_info() override;
  bool supports_compute(DType dtype) const override { return dtype == DType::f32 || dtype == DType::bf16; }
  Tensor empty(Shape shape, DType dtype) override;
  void synchronize() override;
  Tensor to_host(const Tensor& t) override;

  int index() const { return index_; }
  cudaStream_t stream() const { return stream_; }
  int multiprocessors() const { return multiprocessors_; }

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
  void do_rmsnorm_forward(const Tensor& x, const Tensor& weight, double eps, Tensor& y, Tensor& rstd) override;
  void do_rmsnorm_backward(const Tensor& d_y, const Tensor& x, const Tensor& weight, const Tensor& rstd, Tensor& d_x,
                           Tensor& d_weight) override;
  void do_rope_split_forward(const Tensor& qkv, const Tensor& cos, const Tensor& sin, int64_t kv_offset, Tensor& q,
                             Tensor& k, Tensor& v) override;
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
  void do_moe_plan(const Tensor& topk_index, int64_t num_experts, Tensor& expert_offsets, Tensor& slot_of) override;
  void do_moe_gather(const Tensor& x, const Tensor& slot_of, Tensor& sorted) override;
  void do_moe_gather_backward(const Tensor& d_sorted, const Tensor& slot_of, Tensor& d_x) override;
  void do_moe_combine_forward(const Tensor& expert_out, const Tensor& topk_weight, const Tensor& slot_of,
                              Tensor& y) override;
  void do_moe_combine_backward(const Tensor& d_y, const Tensor& expert_out, const Tensor& topk_weight,
                               const Tensor& slot_of, Tensor& d_expert_out, Tensor& d_topk_weight) override;
  void do_expert_matmul(const Tensor& x, const ExpertWeights& weights, const Tensor& expert_offsets,
                        Tensor& out) override;
  void do_expert_matmul_backward(const Tensor& d_out, const Tensor& x, const ExpertWeights& weights,
                                 const Tensor& expert_offsets, Tensor& d_x, const ExpertWeights& d_weights) override;
  void do_sample_tokens(const Tensor& logits, const TokenFilters& filters, const Tensor& uniforms,
                        Tensor& seen, Tensor& ids) override;
  void do_update_decision(const Tensor& sum_squares, const Tensor& micro_totals, const Tensor& control,
                          Tensor& result) override;
  void do_adamw_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v, const AdamWOptions& options,
                     const Tensor& control, const Tensor& result, Tensor& compute_params) override;

 private:
  // A region of the pinned staging buffer that a queued copy still reads or writes until `done`.
  struct StagingRegion {
    size_t begin, end;
    cudaEvent_t done;
  };

  // Host -> device through the staging buffer: returns once `bytes` are in pinned memory, without waiting
  // for the stream (false, and nothing done, when they do not fit).
  bool upload_staged(const void* host, void* device, size_t bytes);
  // Device -> host; waits for the stream (the caller reads `host` next).
  void download(const void* device, void* host, size_t bytes);
  // A free region of `bytes` in the staging buffer, waiting for the queued copies that still use it.
  size_t acquire_staging(size_t bytes);
  void release_staging_regions();  // after a stream synchronization: every region is free
  void release() noexcept;  // frees everything the constructor took (the destructor, a failed constructor)

  int index_;
  int multiprocessors_ = 0;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cublasLtHandle_t cublas_lt_ = nullptr;
  void* workspace_ = nullptr;  // for cuBLASLt's products
  size_t workspace_bytes_ = 0;
  std::unique_ptr<MatmulPlanCache, MatmulPlanCacheDeleter> matmul_plans_;
  // Device memory for the partial results of reductions inside one op (per-block sums, say): any op may use
  // all of it, and nothing in it outlives the op (ops run in stream order, so they never overlap).
  void* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
  // Pinned host memory for small copies, used as a ring: an upload copies into a free region and returns;
  // the region is reused only after its event says the device has read it.
  std::mutex staging_mutex_;
  void* staging_ = nullptr;
  size_t staging_bytes_ = 0;
  size_t staging_head_ = 0;
  std::deque<StagingRegion> staging_in_flight_;  // oldest first
  std::vector<cudaEvent_t> spare_events_;
};

}  // namespace minimind
