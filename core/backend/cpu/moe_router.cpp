// MoE router: scores = softmax(logits) [N, E]; topk_index i32 [N, K] holds the K best experts of each row in
// descending score order (ties to the lower index); topk_weight [N, K] = their scores, divided by
// (sum_k + 1e-20) when normalize and K > 1. The backward reads the saved scores and topk_index.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/dispatch.h"
#include "backend/cpu/openmp_thread_scope.h"

namespace minimind {
namespace {

// The seed model adds this to the sum of the top-k scores before dividing, so the backward uses it too.
constexpr double kNormalizeEpsilon = 1e-20;

// Keeps the K best (score, expert) pairs of one row, best first. An expert enters only when strictly better
// than the current K-th, and moves up only past strictly smaller scores, so among equal scores the lower
// index (seen first) ranks higher. The first K experts always fill the list, so even a row of NaNs yields
// valid indices.
template <typename T>
void select_top_k(const T* scores, int64_t num_experts, int64_t k, int32_t* index) {
  int64_t filled = 0;
  for (int64_t e = 0; e < num_experts; ++e) {
    const T score = scores[e];
    if (filled == k && !(score > scores[index[k - 1]])) continue;
    int64_t position = filled < k ? filled++ : k - 1;
    while (position > 0 && score > scores[index[position - 1]]) {
      index[position] = index[position - 1];
      --position;
    }
    index[position] = static_cast<int32_t>(e);
  }
}

}  // namespace

void CpuBackend::do_moe_router_forward(const Tensor& logits, bool normalize, Tensor& scores,
                                       Tensor& topk_index, Tensor& topk_weight) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const int64_t num_rows = logits.dim(0), num_experts = logits.dim(1), k = topk_index.dim(1);

  cpu::dispatch_floating(logits.dtype(), "moe_router_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* in = logits.data<T>();
    T* probs = scores.data<T>();
    int32_t* index = topk_index.data<int32_t>();
    T* weight = topk_weight.data<T>();
    const bool divide = normalize && k > 1;
#pragma omp parallel for schedule(static) if (num_rows * num_experts > 16384)
    for (int64_t n = 0; n < num_rows; ++n) {
      const T* row = in + n * num_experts;
      T* prob = probs + n * num_experts;
      T max_logit = -std::numeric_limits<T>::infinity();
      for (int64_t e = 0; e < num_experts; ++e) max_logit = std::max(max_logit, row[e]);
      T sum = 0;
      for (int64_t e = 0; e < num_experts; ++e) {
        prob[e] = std::exp(row[e] - max_logit);
        sum += prob[e];
      }
      const T inverse = T(1) / sum;
      for (int64_t e = 0; e < num_experts; ++e) prob[e] *= inverse;

      int32_t* chosen = index + n * k;
      T* chosen_weight = weight + n * k;
      select_top_k(prob, num_experts, k, chosen);
      T chosen_sum = 0;
      for (int64_t j = 0; j < k; ++j) {
        chosen_weight[j] = prob[chosen[j]];
        chosen_sum += chosen_weight[j];
      }
      if (divide) {
        const T denominator = chosen_sum + static_cast<T>(kNormalizeEpsilon);
        for (int64_t j = 0; j < k; ++j) chosen_weight[j] /= denominator;
      }
    }
  });
}

// With g = d_topk_weight and s_k the chosen scores:
//   no normalization:  d s[index_k] += g_k
//   w_k = s_k / (S + eps), S = sum_j s_j:  d s[index_k] += (g_k - sum_j g_j w_j) / (S + eps)
// then d_logits = s * (d - sum_e d_e s_e), the softmax backward. The choice of experts is piecewise constant
// and passes no gradient.
void CpuBackend::do_moe_router_backward(const Tensor& d_topk_weight, const Tensor& d_scores,
                                        const Tensor& scores, const Tensor& topk_index, bool normalize,
                                        Tensor& d_logits) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const int64_t num_rows = scores.dim(0), num_experts = scores.dim(1), k = topk_index.dim(1);

  cpu::dispatch_floating(scores.dtype(), "moe_router_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* probs = scores.data<T>();
    const T* d_weight = d_topk_weight.data<T>();
    const T* d_probs = d_scores.defined() ? d_scores.data<T>() : nullptr;
    const int32_t* index = topk_index.data<int32_t>();
    T* d_out = d_logits.data<T>();
    const bool divided = normalize && k > 1;
#pragma omp parallel for schedule(static) if (num_rows * num_experts > 16384)
    for (int64_t n = 0; n < num_rows; ++n) {
      const T* prob = probs + n * num_experts;
      const int32_t* chosen = index + n * k;
      const T* g = d_weight + n * k;
      // d_out's row first holds the total gradient of the scores, then becomes the gradient of the logits.
      T* d = d_out + n * num_experts;
      if (d_probs)
        for (int64_t e = 0; e < num_experts; ++e) d[e] = d_probs[n * num_experts + e];
      else
        for (int64_t e = 0; e < num_experts; ++e) d[e] = 0;
      if (divided) {
        T chosen_sum = 0;
        for (int64_t j = 0; j < k; ++j) chosen_sum += prob[chosen[j]];
        const T denominator = chosen_sum + static_cast<T>(kNormalizeEpsilon);
        T g_dot_w = 0;
        for (int64_t j = 0; j < k; ++j) g_dot_w += g[j] * (prob[chosen[j]] / denominator);
        for (int64_t j = 0; j < k; ++j) d[chosen[j]] += (g[j] - g_dot_w) / denominator;
      } else {
        for (int64_t j = 0; j < k; ++j) d[chosen[j]] += g[j];
      }
      T d_dot_s = 0;
      for (int64_t e = 0; e < num_experts; ++e) d_dot_s += d[e] * prob[e];
      for (int64_t e = 0; e < num_experts; ++e) d[e] = prob[e] * (d[e] - d_dot_s);
    }
  });
}

}  // namespace minimind
