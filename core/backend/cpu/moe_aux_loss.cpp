// MoE load-balancing loss of the seed model, over B sequences of T rows (N = B T), scores [N, E] and
// topk_index i32 [N, K]:
//   seq_aux: alpha * mean_b sum_e (count_be E / (T K)) * mean_t scores[b, t, e]
//   else:    alpha * sum_e (count_e E / (N K)) * mean_n scores[n, e]
// The counts carry no gradient, so the loss is linear in the scores: aux = sum_{n,e} coefficient[b(n), e]
// scores[n, e], and the forward and the backward share one table of coefficients (nothing is saved). The
// forward adds alpha * loss to aux[0]; the backward scales by d_aux[0] (both f64 host tensors here). The
// expert indices are trusted (they come from the router).
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/dispatch.h"
#include "backend/cpu/openmp_thread_scope.h"

namespace minimind {
namespace {

// coefficient[g, e] = d aux / d scores[n, e] for every row n of group g. A group is one sequence (seq_aux,
// `groups` = batch) or all N rows (one group).
struct AuxCoefficients {
  int64_t groups = 1;
  int64_t rows_per_group = 0;
  std::vector<double> coefficient;  // [groups, E]
};

AuxCoefficients aux_coefficients(const Tensor& topk_index, int64_t num_experts, int64_t batch, bool seq_aux,
                                 double alpha) {
  const int64_t num_rows = topk_index.dim(0), k = topk_index.dim(1);
  AuxCoefficients table;
  table.groups = seq_aux ? batch : 1;
  table.rows_per_group = num_rows / table.groups;
  table.coefficient.assign(static_cast<size_t>(table.groups * num_experts), 0.0);

  const int32_t* index = topk_index.data<int32_t>();
  for (int64_t n = 0; n < num_rows; ++n) {
    double* count = table.coefficient.data() + (n / table.rows_per_group) * num_experts;
    for (int64_t j = 0; j < k; ++j) count[index[n * k + j]] += 1.0;
  }
  // Both modes: (count E / (rows K)) from the load, 1 / rows from the mean over rows, alpha, and 1 / B from
  // the mean over sequences in seq_aux mode (one group otherwise).
  const double rows = static_cast<double>(table.rows_per_group);
  const double scale = alpha * static_cast<double>(num_experts) /
                       (rows * static_cast<double>(k) * rows * static_cast<double>(table.groups));
  for (double& c : table.coefficient) c *= scale;
  return table;
}

}  // namespace

void CpuBackend::do_moe_aux_loss_forward(const Tensor& scores, const Tensor& topk_index, int64_t batch,
                                         bool seq_aux, double alpha, Tensor& aux) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const int64_t num_rows = scores.dim(0), num_experts = scores.dim(1);
  const AuxCoefficients table = aux_coefficients(topk_index, num_experts, batch, seq_aux, alpha);

  aux.data<double>()[0] += cpu::dispatch_floating(scores.dtype(), "moe_aux_loss_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* probs = scores.data<T>();
    const double* coefficient = table.coefficient.data();
    double total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total) if (num_rows * num_experts > 32768)
    for (int64_t n = 0; n < num_rows; ++n) {
      const double* c = coefficient + (n / table.rows_per_group) * num_experts;
      const T* prob = probs + n * num_experts;
      double row = 0;
      for (int64_t e = 0; e < num_experts; ++e) row += c[e] * static_cast<double>(prob[e]);
      total += row;
    }
    return total;
  });
}

void CpuBackend::do_moe_aux_loss_backward(const Tensor& topk_index, int64_t batch, bool seq_aux, double alpha,
                                          const Tensor& d_aux, Tensor& d_scores) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const int64_t num_rows = d_scores.dim(0), num_experts = d_scores.dim(1);
  const AuxCoefficients table =
      aux_coefficients(topk_index, num_experts, batch, seq_aux, alpha * d_aux.data<double>()[0]);

  cpu::dispatch_floating(d_scores.dtype(), "moe_aux_loss_backward", [&](auto zero) {
    using T = decltype(zero);
    T* d = d_scores.data<T>();
    const double* coefficient = table.coefficient.data();
#pragma omp parallel for schedule(static) if (num_rows * num_experts > 32768)
    for (int64_t n = 0; n < num_rows; ++n) {
      const double* c = coefficient + (n / table.rows_per_group) * num_experts;
      for (int64_t e = 0; e < num_experts; ++e) d[n * num_experts + e] = static_cast<T>(c[e]);
    }
  });
}

}  // namespace minimind
