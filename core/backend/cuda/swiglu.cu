// STUB: not implemented yet (replaced by the op's kernels).
#include "backend/cuda/cuda_backend.h"

#include <stdexcept>

namespace minimind {

void CudaBackend::do_swiglu_forward(const Tensor& gate_up, Tensor& out) {
  throw std::logic_error("cuda swiglu_forward: not implemented");
}

void CudaBackend::do_swiglu_backward(const Tensor& d_out, const Tensor& gate_up, Tensor& d_gate_up) {
  throw std::logic_error("cuda swiglu_backward: not implemented");
}

}  // namespace minimind
