// MoE dispatch: moe_plan sorts the N K (row, choice) slots by expert (a stable counting sort), so that each
// expert reads one contiguous block of `sorted` [N K, H]; gather copies rows into that order and combine
// adds the weighted expert outputs back: y[n] += sum_k w[n, k] expert_out[slot_of[n, k]]. slot_of is a
// permutation of [0, N K), so each row n owns its K slots and the row loops run in parallel without races.
// Expert indices and slots are trusted: they come from the router and the plan.
#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/dispatch.h"
#include "backend/cpu/openmp_thread_scope.h"

namespace minimind {
namespace {

template <typename T>
using RowMap = Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>, Eigen::Unaligned>;
template <typename T>
using ConstRowMap = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>, Eigen::Unaligned>;

}  // namespace

void CpuBackend::do_moe_plan(const Tensor& topk_index, int64_t num_experts, Tensor& expert_offsets,
                             Tensor& slot_of) {
  const int64_t num_slots = topk_index.numel();
  const int32_t* expert = topk_index.data<int32_t>();
  int32_t* offsets = expert_offsets.data<int32_t>();
  int32_t* slot = slot_of.data<int32_t>();
  // Count into offsets[e + 1], then prefix-sum: offsets[e] is where expert e's block starts.
  for (int64_t e = 0; e <= num_experts; ++e) offsets[e] = 0;
  for (int64_t i = 0; i < num_slots; ++i) ++offsets[expert[i] + 1];
  for (int64_t e = 0; e < num_experts; ++e) offsets[e + 1] += offsets[e];
  // Visiting the slots in (n, k) order and filling each block front to back keeps the sort stable.
  std::vector<int32_t> next(offsets, offsets + num_experts);
  for (int64_t i = 0; i < num_slots; ++i) slot[i] = next[expert[i]]++;
}

void CpuBackend::do_moe_gather(const Tensor& x, const Tensor& slot_of, Tensor& sorted) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const int64_t num_rows = x.dim(0), hidden = x.dim(1), k = slot_of.dim(1);

  cpu::dispatch_floating(x.dtype(), "moe_gather", [&](auto zero) {
    using T = decltype(zero);
    const T* in = x.data<T>();
    T* out = sorted.data<T>();
    const int32_t* slot = slot_of.data<int32_t>();
#pragma omp parallel for schedule(static) if (num_rows * k * hidden > 32768)
    for (int64_t n = 0; n < num_rows; ++n) {
      const ConstRowMap<T> row(in + n * hidden, hidden);
      for (int64_t j = 0; j < k; ++j) RowMap<T>(out + slot[n * k + j] * hidden, hidden) = row;
    }
  });
}

void CpuBackend::do_moe_gather_backward(const Tensor& d_sorted, const Tensor& slot_of, Tensor& d_x) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const int64_t num_rows = d_x.dim(0), hidden = d_x.dim(1), k = slot_of.dim(1);

  cpu::dispatch_floating(d_x.dtype(), "moe_gather_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* d_in = d_sorted.data<T>();
    T* d_out = d_x.data<T>();
    const int32_t* slot = slot_of.data<int32_t>();
#pragma omp parallel for schedule(static) if (num_rows * k * hidden > 32768)
    for (int64_t n = 0; n < num_rows; ++n) {
      RowMap<T> row(d_out + n * hidden, hidden);
      for (int64_t j = 0; j < k; ++j) row += ConstRowMap<T>(d_in + slot[n * k + j] * hidden, hidden);
    }
  });
}

void CpuBackend::do_moe_combine_forward(const Tensor& expert_out, const Tensor& topk_weight,
                                        const Tensor& slot_of, Tensor& y) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const int64_t num_rows = y.dim(0), hidden = y.dim(1), k = slot_of.dim(1);

  cpu::dispatch_floating(y.dtype(), "moe_combine_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* expert_rows = expert_out.data<T>();
    const T* weight = topk_weight.data<T>();
    const int32_t* slot = slot_of.data<int32_t>();
    T* out = y.data<T>();
#pragma omp parallel for schedule(static) if (num_rows * k * hidden > 32768)
    for (int64_t n = 0; n < num_rows; ++n) {
      RowMap<T> row(out + n * hidden, hidden);
      for (int64_t j = 0; j < k; ++j)
        row += weight[n * k + j] * ConstRowMap<T>(expert_rows + slot[n * k + j] * hidden, hidden);
    }
  });
}

void CpuBackend::do_moe_combine_backward(const Tensor& d_y, const Tensor& expert_out,
                                         const Tensor& topk_weight, const Tensor& slot_of,
                                         Tensor& d_expert_out, Tensor& d_topk_weight) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const int64_t num_rows = d_y.dim(0), hidden = d_y.dim(1), k = slot_of.dim(1);

  cpu::dispatch_floating(d_y.dtype(), "moe_combine_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* d_out = d_y.data<T>();
    const T* expert_rows = expert_out.data<T>();
    const T* weight = topk_weight.data<T>();
    const int32_t* slot = slot_of.data<int32_t>();
    T* d_expert = d_expert_out.data<T>();
    T* d_weight = d_topk_weight.data<T>();
#pragma omp parallel for schedule(static) if (num_rows * k * hidden > 32768)
    for (int64_t n = 0; n < num_rows; ++n) {
      const ConstRowMap<T> d_row(d_out + n * hidden, hidden);
      for (int64_t j = 0; j < k; ++j) {
        const int64_t s = slot[n * k + j];
        d_weight[n * k + j] = d_row.dot(ConstRowMap<T>(expert_rows + s * hidden, hidden));
        RowMap<T>(d_expert + s * hidden, hidden) = weight[n * k + j] * d_row;
      }
    }
  });
}

}  // namespace minimind
