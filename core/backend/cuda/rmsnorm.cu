// rmsnorm: y[n] = weight * (x[n] * rstd[n]), rstd[n] = 1 / sqrt(mean_h x[n, h]^2 + eps); x, y C [N, H],
// weight C [H], rstd S (f32) [N] saved for the backward. One block per row; sums and products in f32, and
// a bf16 output is rounded once. Backward, with g = d_y * weight and c[n] = rstd[n]^2 * mean_h(g x):
//   d_x[n] += rstd[n] * (g[n] - c[n] x[n])          d_weight (G, f32) += sum_n d_y[n] * x[n] * rstd[n]
// d_weight is deterministic: each block sums its rows' terms in order into its own partial row (in the
// backend's workspace), and a second kernel adds the partials in block order.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_types.cuh"

namespace minimind {
namespace {

using cuda::device_data;
using cuda::from_float;
using cuda::to_float;

// Row blocks of the backward, i.e. d_weight partial rows; enough to fill the GPU, few to add up.
constexpr int64_t kMaxRowBlocks = 256;

template <typename T>
__global__ void rmsnorm_forward_kernel(const T* __restrict__ x, const T* __restrict__ weight, float eps,
                                       T* __restrict__ y, float* __restrict__ rstd, int64_t rows,
                                       int64_t hidden) {
  const float inverse_hidden = 1.0f / static_cast<float>(hidden);
  for (int64_t n = blockIdx.x; n < rows; n += gridDim.x) {
    const T* x_row = x + n * hidden;
    T* y_row = y + n * hidden;
    float sum_squares = 0.0f;
    for (int64_t h = threadIdx.x; h < hidden; h += blockDim.x) {
      const float value = to_float(x_row[h]);
      sum_squares += value * value;
    }
    sum_squares = cuda::block_sum(sum_squares);
    const float row_rstd = 1.0f / sqrtf(sum_squares * inverse_hidden + eps);
    if (threadIdx.x == 0) rstd[n] = row_rstd;
    for (int64_t h = threadIdx.x; h < hidden; h += blockDim.x)
      y_row[h] = from_float<T>(to_float(weight[h]) * (to_float(x_row[h]) * row_rstd));
  }
}

// Block b takes rows b, b + gridDim.x, ...; thread t owns columns t, t + blockDim.x, ... of the block's
// partial row, so the partials need neither atomics nor synchronization.
template <typename T>
__global__ void rmsnorm_backward_kernel(const T* __restrict__ d_y, const T* __restrict__ x,
                                        const T* __restrict__ weight, const float* __restrict__ rstd,
                                        T* __restrict__ d_x, float* __restrict__ partials, int64_t rows,
                                        int64_t hidden) {
  const float inverse_hidden = 1.0f / static_cast<float>(hidden);
  float* partial = partials + blockIdx.x * hidden;
  for (int64_t h = threadIdx.x; h < hidden; h += blockDim.x) partial[h] = 0.0f;
  for (int64_t n = blockIdx.x; n < rows; n += gridDim.x) {
    const T* d_y_row = d_y + n * hidden;
    const T* x_row = x + n * hidden;
    T* d_x_row = d_x + n * hidden;
    float dot = 0.0f;  // sum_h d_y * weight * x
    for (int64_t h = threadIdx.x; h < hidden; h += blockDim.x)
      dot += to_float(d_y_row[h]) * to_float(weight[h]) * to_float(x_row[h]);
    dot = cuda::block_sum(dot);
    const float row_rstd = rstd[n];
    const float correction = row_rstd * row_rstd * dot * inverse_hidden;
    for (int64_t h = threadIdx.x; h < hidden; h += blockDim.x) {
      const float gradient = to_float(d_y_row[h]);
      const float value = to_float(x_row[h]);
      d_x_row[h] = from_float<T>(to_float(d_x_row[h]) +
                                 row_rstd * (gradient * to_float(weight[h]) - correction * value));
      partial[h] += gradient * value * row_rstd;
    }
  }
}

// d_weight[h] += the partials of column h, added in block order.
__global__ void rmsnorm_weight_gradient_kernel(const float* __restrict__ partials, int64_t blocks,
                                               int64_t hidden, float* __restrict__ d_weight) {
  for (int64_t h = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; h < hidden;
       h += int64_t(gridDim.x) * blockDim.x) {
    float total = partials[h];
    for (int64_t block = 1; block < blocks; ++block) total += partials[block * hidden + h];
    d_weight[h] += total;
  }
}

}  // namespace

void CudaBackend::do_rmsnorm_forward(const Tensor& x, const Tensor& weight, double eps, Tensor& y,
                                     Tensor& rstd) {
  const int64_t rows = x.dim(0);
  const int64_t hidden = x.dim(1);
  if (rows == 0) return;
  cuda::dispatch_compute(x.dtype(), "rmsnorm_forward", [&](auto zero) {
    using T = decltype(zero);
    rmsnorm_forward_kernel<T><<<cuda::blocks_for_rows(rows), cuda::threads_for_row(hidden), 0, stream()>>>(
        device_data<T>(x), device_data<T>(weight), static_cast<float>(eps), device_data<T>(y),
        device_data<float>(rstd), rows, hidden);
    CUDA_CHECK_LAUNCH("rmsnorm_forward_kernel");
  });
}

void CudaBackend::do_rmsnorm_backward(const Tensor& d_y, const Tensor& x, const Tensor& weight,
                                      const Tensor& rstd, Tensor& d_x, Tensor& d_weight) {
  const int64_t rows = x.dim(0);
  const int64_t hidden = x.dim(1);
  if (rows == 0 || hidden == 0) return;
  // The partial rows live in the products' workspace: ops run in stream order, so no product is using it.
  const int64_t fitting_blocks = static_cast<int64_t>(workspace_bytes_ / (sizeof(float) * hidden));
  if (fitting_blocks < 1)
    throw std::invalid_argument("rmsnorm_backward: a hidden size of " + std::to_string(hidden) +
                                " does not fit the CUDA backend's workspace of " +
                                std::to_string(workspace_bytes_) + " bytes");
  const int64_t blocks = std::min({rows, kMaxRowBlocks, fitting_blocks});
  float* partials = static_cast<float*>(workspace_);
  cuda::dispatch_compute(x.dtype(), "rmsnorm_backward", [&](auto zero) {
    using T = decltype(zero);
    rmsnorm_backward_kernel<T><<<static_cast<unsigned>(blocks), cuda::threads_for_row(hidden), 0, stream()>>>(
        device_data<T>(d_y), device_data<T>(x), device_data<T>(weight), device_data<float>(rstd),
        device_data<T>(d_x), partials, rows, hidden);
    CUDA_CHECK_LAUNCH("rmsnorm_backward_kernel");
  });
  rmsnorm_weight_gradient_kernel<<<cuda::blocks_for(hidden), cuda::kThreads, 0, stream()>>>(
      partials, blocks, hidden, device_data<float>(d_weight));
  CUDA_CHECK_LAUNCH("rmsnorm_weight_gradient_kernel");
}

}  // namespace minimind
