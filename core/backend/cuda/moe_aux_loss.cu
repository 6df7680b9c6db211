// STUB: not implemented yet (replaced by the op's kernels).
#include "backend/cuda/cuda_backend.h"

#include <stdexcept>

namespace minimind {

void CudaBackend::do_moe_aux_loss_forward(const Tensor& scores, const Tensor& topk_index, int64_t batch, bool seq_aux, double alpha, Tensor& aux) {
  throw std::logic_error("cuda moe_aux_loss_forward: not implemented");
}

void CudaBackend::do_moe_aux_loss_backward(const Tensor& topk_index, int64_t batch, bool seq_aux, double alpha, const Tensor& d_aux, Tensor& d_scores) {
  throw std::logic_error("cuda moe_aux_loss_backward: not implemented");
}

}  // namespace minimind
