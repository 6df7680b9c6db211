// MoE dispatch: moe_plan sorts the N K (row, choice) slots by expert (a stable counting sort), so that each
// expert reads one contiguous block of `sorted` [N K, H]; gather copies rows into that order and combine
// adds the weighted expert outputs back: y[n] += sum_k w[n, k] expert_out[slot_of[n, k]]. slot_of is a
// permutation of [0, N K), so each row n owns its K slots and the row loops run in parallel without races.
#include <Eigen/Core>
#include <cstdint>
#include <stdexcept>
#include <string>
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

// slot_of i32 [N, K] with every entry in [0, N K): out-of-range slots would read or write past the buffers.
void check_slots(const Tensor& slot_of, int64_t num_rows, std::string_view op) {
  expect_rank(slot_of, 2, op, "slot_of");
  expect_dtype(slot_of, DType::i32, op, "slot_of");
  expect_shape(slot_of, {num_rows, slot_of.dim(1)}, op, "slot_of");
  const int32_t* slot = slot_of.data<int32_t>();
  const int64_t num_slots = slot_of.numel();
  for (int64_t i = 0; i < num_slots; ++i)
    if (slot[i] < 0 || slot[i] >= num_slots)
      throw std::invalid_argument(std::string(op) + ": slot_of[" + std::to_string(i) +
                                  "] = " + std::to_string(slot[i]) + " is outside [0, " +
                                  std::to_string(num_slots) + ")");
}

}  // namespace

void CpuBackend::moe_plan(const Tensor& topk_index, int64_t num_experts, Tensor& expert_offsets,
                          Tensor& slot_of) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  constexpr std::string_view op = "moe_plan";
  expect_rank(topk_index, 2, op, "topk_index");
  expect_dtype(topk_index, DType::i32, op, "topk_index");
  if (num_experts < 1)
    throw std::invalid_argument(std::string(op) + ": num_experts must be positive, got " +
                                std::to_string(num_experts));
  expect_shape(expert_offsets, {num_experts + 1}, op, "expert_offsets");
  expect_dtype(expert_offsets, DType::i32, op, "expert_offsets");
  expect_shape(slot_of, topk_index.shape(), op, "slot_of");
  expect_dtype(slot_of, DType::i32, op, "slot_of");
  const int64_t num_slots = topk_index.numel();
  if (num_slots > INT32_MAX)
    throw std::invalid_argument(std::string(op) + ": " + topk_index.describe() +
                                " has more slots than i32 holds");

  const int32_t* expert = topk_index.data<int32_t>();
  int32_t* offsets = expert_offsets.data<int32_t>();
  int32_t* slot = slot_of.data<int32_t>();
  // Count into offsets[e + 1], then prefix-sum: offsets[e] is where expert e's block starts.
  for (int64_t e = 0; e <= num_experts; ++e) offsets[e] = 0;
  for (int64_t i = 0; i < num_slots; ++i) {
    if (expert[i] < 0 || expert[i] >= num_experts)
      throw std::invalid_argument(std::string(op) + ": topk_index[" + std::to_string(i) +
                                  "] = " + std::to_string(expert[i]) + " is outside [0, " +
                                  std::to_string(num_experts) + ")");
    ++offsets[expert[i] + 1];
  }
  for (int64_t e = 0; e < num_experts; ++e) offsets[e + 1] += offsets[e];
  // Visiting the slots in (n, k) order and filling each block front to back keeps the sort stable.
  std::vector<int32_t> next(offsets, offsets + num_experts);
  for (int64_t i = 0; i < num_slots; ++i) slot[i] = next[expert[i]]++;
}

void CpuBackend::moe_gather(const Tensor& x, const Tensor& slot_of, Tensor& sorted) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  constexpr std::string_view op = "moe_gather";
  expect_rank(x, 2, op, "x");
  const int64_t num_rows = x.dim(0), hidden = x.dim(1);
  check_slots(slot_of, num_rows, op);
  const int64_t k = slot_of.dim(1);
  expect_shape(sorted, {num_rows * k, hidden}, op, "sorted");
  expect_dtype(sorted, x.dtype(), op, "sorted");

  cpu::dispatch_floating(x.dtype(), op, [&](auto zero) {
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

void CpuBackend::moe_gather_backward(const Tensor& d_sorted, const Tensor& slot_of, Tensor& d_x) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  constexpr std::string_view op = "moe_gather_backward";
  expect_rank(d_x, 2, op, "d_x");
  const int64_t num_rows = d_x.dim(0), hidden = d_x.dim(1);
  check_slots(slot_of, num_rows, op);
  const int64_t k = slot_of.dim(1);
  expect_shape(d_sorted, {num_rows * k, hidden}, op, "d_sorted");
  expect_dtype(d_sorted, d_x.dtype(), op, "d_sorted");

  cpu::dispatch_floating(d_x.dtype(), op, [&](auto zero) {
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

void CpuBackend::moe_combine_forward(const Tensor& expert_out, const Tensor& topk_weight,
                                     const Tensor& slot_of, Tensor& y) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  constexpr std::string_view op = "moe_combine_forward";
  expect_rank(y, 2, op, "y");
  const int64_t num_rows = y.dim(0), hidden = y.dim(1);
  check_slots(slot_of, num_rows, op);
  const int64_t k = slot_of.dim(1);
  expect_shape(expert_out, {num_rows * k, hidden}, op, "expert_out");
  expect_dtype(expert_out, y.dtype(), op, "expert_out");
  expect_shape(topk_weight, {num_rows, k}, op, "topk_weight");
  expect_dtype(topk_weight, y.dtype(), op, "topk_weight");

  cpu::dispatch_floating(y.dtype(), op, [&](auto zero) {
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

void CpuBackend::moe_combine_backward(const Tensor& d_y, const Tensor& expert_out, const Tensor& topk_weight,
                                      const Tensor& slot_of, Tensor& d_expert_out, Tensor& d_topk_weight) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  constexpr std::string_view op = "moe_combine_backward";
  expect_rank(d_y, 2, op, "d_y");
  const int64_t num_rows = d_y.dim(0), hidden = d_y.dim(1);
  check_slots(slot_of, num_rows, op);
  const int64_t k = slot_of.dim(1);
  expect_shape(expert_out, {num_rows * k, hidden}, op, "expert_out");
  expect_dtype(expert_out, d_y.dtype(), op, "expert_out");
  expect_shape(topk_weight, {num_rows, k}, op, "topk_weight");
  expect_dtype(topk_weight, d_y.dtype(), op, "topk_weight");
  expect_shape(d_expert_out, expert_out.shape(), op, "d_expert_out");
  expect_dtype(d_expert_out, d_y.dtype(), op, "d_expert_out");
  expect_shape(d_topk_weight, topk_weight.shape(), op, "d_topk_weight");
  expect_dtype(d_topk_weight, d_y.dtype(), op, "d_topk_weight");

  cpu::dispatch_floating(d_y.dtype(), op, [&](auto zero) {
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
