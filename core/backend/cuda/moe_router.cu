// STUB: not implemented yet (replaced by the op's kernels).
#include "backend/cuda/cuda_backend.h"

#include <stdexcept>

namespace minimind {

void CudaBackend::do_moe_router_forward(const Tensor& logits, bool normalize, Tensor& scores, Tensor& topk_index, Tensor& topk_weight) {
  throw std::logic_error("cuda moe_router_forward: not implemented");
}

void CudaBackend::do_moe_router_backward(const Tensor& d_topk_weight, const Tensor& d_scores, const Tensor& scores, const Tensor& topk_index, bool normalize, Tensor& d_logits) {
  throw std::logic_error("cuda moe_router_backward: not implemented");
}

}  // namespace minimind
