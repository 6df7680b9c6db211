// STUB: not implemented yet (replaced by the op's kernels).
#include "backend/cuda/cuda_backend.h"

#include <stdexcept>

namespace minimind {

void CudaBackend::do_embedding_forward(const Tensor& ids, const Tensor& table, Tensor& out) {
  throw std::logic_error("cuda embedding_forward: not implemented");
}

void CudaBackend::do_embedding_backward(const Tensor& ids, const Tensor& d_out, Tensor& d_table) {
  throw std::logic_error("cuda embedding_backward: not implemented");
}

}  // namespace minimind
