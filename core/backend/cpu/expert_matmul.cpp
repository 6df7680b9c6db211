// expert_matmul: the experts' linear layers over the expert-sorted rows. Expert e owns rows
// [offsets[e], offsets[e+1]) of x [R, in] (the plan of moe_plan, a host tensor here) and computes
//   out[rows of e] = x[rows of e] W_e^T                              (overwritten)
// Backward: d_x[rows of e] = d_out[rows of e] W_e (overwritten), d_W_e += d_out[rows of e]^T x[rows of e].
// Each expert is one product of the backend's matmul over row views, so the products are Eigen's GEMMs on
// the backend's threads; an expert without rows costs nothing, and rows past offsets[E] are left untouched.
#include "backend/cpu/cpu_backend.h"

namespace minimind {

void CpuBackend::do_expert_matmul(const Tensor& x, const ExpertWeights& weights, const Tensor& expert_offsets,
                                  Tensor& out) {
  const int32_t* offsets = expert_offsets.data<int32_t>();
  for (int64_t e = 0; e < weights.count; ++e) {
    const int64_t begin = offsets[e], end = offsets[e + 1];
    if (begin == end) continue;
    Tensor out_rows = out.rows(begin, end);
    do_matmul(x.rows(begin, end), false, weights.expert(e), true, out_rows, false);
  }
}

void CpuBackend::do_expert_matmul_backward(const Tensor& d_out, const Tensor& x, const ExpertWeights& weights,
                                           const Tensor& expert_offsets, Tensor& d_x,
                                           const ExpertWeights& d_weights) {
  const int32_t* offsets = expert_offsets.data<int32_t>();
  for (int64_t e = 0; e < weights.count; ++e) {
    const int64_t begin = offsets[e], end = offsets[e + 1];
    if (begin == end) continue;
    const Tensor d_out_rows = d_out.rows(begin, end);
    Tensor d_x_rows = d_x.rows(begin, end), d_weight = d_weights.expert(e);
    do_matmul(d_out_rows, false, weights.expert(e), false, d_x_rows, false);
    do_matmul(d_out_rows, true, x.rows(begin, end), false, d_weight, true);
  }
}

}  // namespace minimind
