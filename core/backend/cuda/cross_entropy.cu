// STUB: not implemented yet (replaced by the op's kernels).
#include "backend/cuda/cuda_backend.h"

#include <stdexcept>

namespace minimind {

void CudaBackend::do_cross_entropy_forward(const Tensor& logits, const Tensor& targets, Tensor& losses, Tensor& logsumexp) {
  throw std::logic_error("cuda cross_entropy_forward: not implemented");
}

void CudaBackend::do_cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& logsumexp, const Tensor& d_losses, Tensor& d_logits) {
  throw std::logic_error("cuda cross_entropy_backward: not implemented");
}

void CudaBackend::do_masked_loss_totals(const Tensor& losses, const Tensor& loss_mask, Tensor& totals) {
  throw std::logic_error("cuda masked_loss_totals: not implemented");
}

void CudaBackend::do_masked_loss_backward(const Tensor& loss_mask, const Tensor& totals, const Tensor& scale, Tensor& d_losses) {
  throw std::logic_error("cuda masked_loss_backward: not implemented");
}

}  // namespace minimind
