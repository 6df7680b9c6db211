// rmsnorm: y[n] = weight * (x[n] * rstd[n]), rstd[n] = 1 / sqrt(mean_h x[n, h]^2 + eps); x, y [N, H],
// weight [H], rstd [N] saved for the backward. Computed in the tensors' dtype (fp32 like the reference
// model). Backward, with g = d_y * weight and c[n] = rstd[n]^2 * mean_h(g[n, h] x[n, h]):
//   d_x[n] += rstd[n] * (g[n] - c[n] x[n])          d_weight += sum_n d_y[n] * x[n] * rstd[n]
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/dispatch.h"
#include "backend/cpu/openmp_thread_scope.h"

namespace minimind {
namespace {

constexpr int64_t kParallelElements = 32768;

// d_weight sums over rows. Rows are cut into a fixed number of blocks that depends only on N (never on the
// thread count); each block sums its rows in order into its own partial, and the partials are added in
// block order: race-free, parallel, and the same bits at any thread count.
constexpr int64_t kMaxRowBlocks = 256;
constexpr int64_t kMinRowsPerBlock = 16;

}  // namespace

void CpuBackend::do_rmsnorm_forward(const Tensor& x, const Tensor& weight, double eps, Tensor& y,
                                    Tensor& rstd) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const int64_t rows = x.dim(0);
  const int64_t hidden = x.dim(1);

  cpu::dispatch_floating(x.dtype(), "rmsnorm_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* x_values = x.data<T>();
    const T* w = weight.data<T>();
    T* y_values = y.data<T>();
    T* rstd_values = rstd.data<T>();
    const T epsilon = static_cast<T>(eps);
    const T inverse_hidden = T(1) / static_cast<T>(hidden);
#pragma omp parallel for schedule(static) if (rows * hidden > kParallelElements)
    for (int64_t n = 0; n < rows; ++n) {
      const T* x_row = x_values + n * hidden;
      T* y_row = y_values + n * hidden;
      T sum_squares = 0;
#pragma omp simd reduction(+ : sum_squares)
      for (int64_t h = 0; h < hidden; ++h) sum_squares += x_row[h] * x_row[h];
      const T row_rstd = T(1) / std::sqrt(sum_squares * inverse_hidden + epsilon);
      rstd_values[n] = row_rstd;
#pragma omp simd
      for (int64_t h = 0; h < hidden; ++h) y_row[h] = w[h] * (x_row[h] * row_rstd);
    }
  });
}

void CpuBackend::do_rmsnorm_backward(const Tensor& d_y, const Tensor& x, const Tensor& weight,
                                     const Tensor& rstd, Tensor& d_x, Tensor& d_weight) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const int64_t rows = x.dim(0);
  const int64_t hidden = x.dim(1);

  cpu::dispatch_floating(x.dtype(), "rmsnorm_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* d_y_values = d_y.data<T>();
    const T* x_values = x.data<T>();
    const T* w = weight.data<T>();
    const T* rstd_values = rstd.data<T>();
    T* d_x_values = d_x.data<T>();
    T* d_w = d_weight.data<T>();
    const T inverse_hidden = T(1) / static_cast<T>(hidden);

    const int64_t blocks = std::clamp<int64_t>(rows / kMinRowsPerBlock, 1, kMaxRowBlocks);
    std::vector<T> partials(static_cast<size_t>(blocks * hidden), T(0));
    const bool parallel = rows * hidden > kParallelElements;

#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t block = 0; block < blocks; ++block) {
      T* partial = partials.data() + block * hidden;
      const int64_t row_end = rows * (block + 1) / blocks;
      for (int64_t n = rows * block / blocks; n < row_end; ++n) {
        const T* d_y_row = d_y_values + n * hidden;
        const T* x_row = x_values + n * hidden;
        T* d_x_row = d_x_values + n * hidden;
        const T row_rstd = rstd_values[n];
        T dot = 0;  // sum_h d_y * weight * x
#pragma omp simd reduction(+ : dot)
        for (int64_t h = 0; h < hidden; ++h) dot += d_y_row[h] * w[h] * x_row[h];
        const T correction = row_rstd * row_rstd * dot * inverse_hidden;
#pragma omp simd
        for (int64_t h = 0; h < hidden; ++h) {
          d_x_row[h] += row_rstd * (d_y_row[h] * w[h] - correction * x_row[h]);
          partial[h] += d_y_row[h] * x_row[h] * row_rstd;
        }
      }
    }

    // The partials fold into block 0 in block order: at most kMaxRowBlocks x H adds, too few to share.
    T* total = partials.data();
    for (int64_t block = 1; block < blocks; ++block) {
      const T* partial = partials.data() + block * hidden;
#pragma omp simd
      for (int64_t h = 0; h < hidden; ++h) total[h] += partial[h];
    }
#pragma omp simd
    for (int64_t h = 0; h < hidden; ++h) d_w[h] += total[h];
  });
}

}  // namespace minimind
