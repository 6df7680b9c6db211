// STUB: not implemented yet (replaced by the op's kernels).
#include "backend/cuda/cuda_backend.h"

#include <stdexcept>

namespace minimind {

void CudaBackend::do_matmul(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b, Tensor& out, bool accumulate) {
  throw std::logic_error("cuda matmul: not implemented");
}

}  // namespace minimind
