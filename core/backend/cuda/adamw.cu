// STUB: not implemented yet (replaced by the op's kernels).
#include "backend/cuda/cuda_backend.h"

#include <stdexcept>

namespace minimind {

void CudaBackend::do_update_decision(const Tensor& sum_squares, const Tensor& micro_totals, const Tensor& control, Tensor& result) {
  throw std::logic_error("cuda update_decision: not implemented");
}

void CudaBackend::do_adamw_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v, const AdamWOptions& options, const Tensor& control, const Tensor& result, Tensor& compute_params) {
  throw std::logic_error("cuda adamw_step: not implemented");
}

}  // namespace minimind
