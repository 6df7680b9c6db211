// STUB: not implemented yet (replaced by the op's kernels).
#include "backend/cuda/cuda_backend.h"

#include <stdexcept>

namespace minimind {

void CudaBackend::do_rope_split_forward(const Tensor& qkv, const Tensor& cos, const Tensor& sin, int64_t kv_offset, Tensor& q, Tensor& k, Tensor& v) {
  throw std::logic_error("cuda rope_split_forward: not implemented");
}

void CudaBackend::do_rope_split_backward(const Tensor& d_q, const Tensor& d_k, const Tensor& d_v, const Tensor& cos, const Tensor& sin, Tensor& d_qkv) {
  throw std::logic_error("cuda rope_split_backward: not implemented");
}

}  // namespace minimind
