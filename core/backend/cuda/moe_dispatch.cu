// STUB: not implemented yet (replaced by the op's kernels).
#include "backend/cuda/cuda_backend.h"

#include <stdexcept>

namespace minimind {

void CudaBackend::do_moe_plan(const Tensor& topk_index, int64_t num_experts, Tensor& expert_offsets, Tensor& slot_of) {
  throw std::logic_error("cuda moe_plan: not implemented");
}

void CudaBackend::do_moe_gather(const Tensor& x, const Tensor& slot_of, Tensor& sorted) {
  throw std::logic_error("cuda moe_gather: not implemented");
}

void CudaBackend::do_moe_gather_backward(const Tensor& d_sorted, const Tensor& slot_of, Tensor& d_x) {
  throw std::logic_error("cuda moe_gather_backward: not implemented");
}

void CudaBackend::do_moe_combine_forward(const Tensor& expert_out, const Tensor& topk_weight, const Tensor& slot_of, Tensor& y) {
  throw std::logic_error("cuda moe_combine_forward: not implemented");
}

void CudaBackend::do_moe_combine_backward(const Tensor& d_y, const Tensor& expert_out, const Tensor& topk_weight, const Tensor& slot_of, Tensor& d_expert_out, Tensor& d_topk_weight) {
  throw std::logic_error("cuda moe_combine_backward: not implemented");
}

}  // namespace minimind
