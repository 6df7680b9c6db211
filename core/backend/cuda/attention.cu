// STUB: not implemented yet (replaced by the op's kernels).
#include "backend/cuda/cuda_backend.h"

#include <stdexcept>

namespace minimind {

void CudaBackend::do_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask, const AttentionOptions& options, Tensor& out, Tensor& lse) {
  throw std::logic_error("cuda attention_forward: not implemented");
}

void CudaBackend::do_attention_probs(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask, const AttentionOptions& options, Tensor& probs) {
  throw std::logic_error("cuda attention_probs: not implemented");
}

void CudaBackend::do_attention_backward(const Tensor& d_out, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse, const Tensor& key_mask, const AttentionOptions& options, Tensor& d_q, Tensor& d_k, Tensor& d_v) {
  throw std::logic_error("cuda attention_backward: not implemented");
}

}  // namespace minimind
