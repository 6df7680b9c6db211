// STUB: not implemented yet (replaced by the op's kernels).
#include "backend/cuda/cuda_backend.h"

#include <stdexcept>

namespace minimind {

void CudaBackend::do_rmsnorm_forward(const Tensor& x, const Tensor& weight, double eps, Tensor& y, Tensor& rstd) {
  throw std::logic_error("cuda rmsnorm_forward: not implemented");
}

void CudaBackend::do_rmsnorm_backward(const Tensor& d_y, const Tensor& x, const Tensor& weight, const Tensor& rstd, Tensor& d_x, Tensor& d_weight) {
  throw std::logic_error("cuda rmsnorm_backward: not implemented");
}

}  // namespace minimind
