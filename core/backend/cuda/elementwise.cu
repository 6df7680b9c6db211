// STUB: not implemented yet (replaced by the op's kernels).
#include "backend/cuda/cuda_backend.h"

#include <stdexcept>

namespace minimind {

void CudaBackend::do_add(Tensor& y, const Tensor& x) {
  throw std::logic_error("cuda add: not implemented");
}

void CudaBackend::do_scale(Tensor& y, double factor) {
  throw std::logic_error("cuda scale: not implemented");
}

void CudaBackend::do_sum_squares(const Tensor& x, Tensor& out) {
  throw std::logic_error("cuda sum_squares: not implemented");
}

void CudaBackend::do_dropout(Tensor& x, const Dropout& dropout) {
  throw std::logic_error("cuda dropout: not implemented");
}

}  // namespace minimind
