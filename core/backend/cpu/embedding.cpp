// embedding: out[n] = table[ids[n]]; ids i32 [N], table [V, H], out [N, H]. Nothing is saved. The ids are
// trusted (the model checks each batch on the host).
// Backward: d_table[ids[n]] += d_out[n] (parameter gradient, accumulates). Repeated ids make the scatter a
// reduction, so each thread owns a band of columns and walks all rows in order: no races, no atomics, and
// every element sums its rows in the order of n whatever the thread count, so results are bit-reproducible.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/dispatch.h"
#include "backend/cpu/openmp_thread_scope.h"

namespace minimind {
namespace {

// Below this many elements a single thread is faster than waking the team.
constexpr int64_t kParallelElements = 32768;

}  // namespace

void CpuBackend::do_embedding_forward(const Tensor& ids, const Tensor& table, Tensor& out) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const int64_t rows = ids.dim(0);
  const int64_t hidden = table.dim(1);

  cpu::dispatch_floating(table.dtype(), "embedding_forward", [&](auto zero) {
    using T = decltype(zero);
    const int32_t* id_values = ids.data<int32_t>();
    const T* table_values = table.data<T>();
    T* out_values = out.data<T>();
#pragma omp parallel for schedule(static) if (rows * hidden > kParallelElements)
    for (int64_t n = 0; n < rows; ++n)
      std::memcpy(out_values + n * hidden, table_values + id_values[n] * hidden, sizeof(T) * hidden);
  });
}

void CpuBackend::do_embedding_backward(const Tensor& ids, const Tensor& d_out, Tensor& d_table) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const int64_t rows = ids.dim(0);
  const int64_t hidden = d_table.dim(1);

  cpu::dispatch_floating(d_table.dtype(), "embedding_backward", [&](auto zero) {
    using T = decltype(zero);
    const int32_t* id_values = ids.data<int32_t>();
    const T* gradient = d_out.data<T>();
    T* table_gradient = d_table.data<T>();
    // Column bands are whole 64-byte lines, so two threads never write the same cache line of a row.
    constexpr int64_t kLine = 64 / sizeof(T);
    const int64_t lines = (hidden + kLine - 1) / kLine;
#pragma omp parallel if (rows * hidden > kParallelElements)
    {
      const int64_t threads = omp_get_num_threads();
      const int64_t thread = omp_get_thread_num();
      const int64_t begin = std::min(hidden, lines * thread / threads * kLine);
      const int64_t end = std::min(hidden, lines * (thread + 1) / threads * kLine);
      for (int64_t n = 0; n < rows; ++n) {
        const T* source = gradient + n * hidden;
        T* target = table_gradient + id_values[n] * hidden;
#pragma omp simd
        for (int64_t h = begin; h < end; ++h) target[h] += source[h];
      }
    }
  });
}

}  // namespace minimind
