// STUB: not implemented yet (replaced by the op's kernels).
#include "backend/cuda/cuda_backend.h"

#include <stdexcept>

namespace minimind {

void CudaBackend::do_expert_matmul(const Tensor& x, const ExpertWeights& weights, const Tensor& expert_offsets, Tensor& out) {
  throw std::logic_error("cuda expert_matmul: not implemented");
}

void CudaBackend::do_expert_matmul_backward(const Tensor& d_out, const Tensor& x, const ExpertWeights& weights, const Tensor& expert_offsets, Tensor& d_x, const ExpertWeights& d_weights) {
  throw std::logic_error("cuda expert_matmul_backward: not implemented");
}

}  // namespace minimind
