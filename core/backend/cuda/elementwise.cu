// Elementwise ops and the sum of squares on the compute dtypes (f32, bf16), computed in f32: bf16 elements
// are widened on load and rounded once when stored.
//   add          y += x
//   scale        y *= factor (the factor rounded to f32 first, as the CPU rounds it to its compute type)
//   sum_squares  out[0] (f64) = sum x^2: f32 over groups of a thread's elements, f64 from there on, with a
//                fixed grid (from the size alone) and a fixed order of summation, so the result is the same
//                on every run and every GPU
//   dropout      x *= keep(i) / (1 - p), the mask of dropout_mask.h with the step's seed read on the device
#include <algorithm>
#include <cstdint>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_types.cuh"

namespace minimind {
namespace {

using cuda::from_float;
using cuda::kThreads;
using cuda::to_float;

__device__ __forceinline__ int64_t first_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

// No __restrict__: add(y, y) is a valid call.
template <typename T>
__global__ void add_kernel(T* y, const T* x, int64_t count) {
  for (int64_t i = first_index(); i < count; i += grid_stride())
    y[i] = from_float<T>(to_float(y[i]) + to_float(x[i]));
}

template <typename T>
__global__ void scale_kernel(T* __restrict__ y, float factor, int64_t count) {
  for (int64_t i = first_index(); i < count; i += grid_stride())
    y[i] = from_float<T>(to_float(y[i]) * factor);
}

// ---- sum of squares ---------------------------------------------------------------------------------

// A thread adds this many squares in f32 before folding them into its f64 sum.
constexpr int kSquaresPerGroup = 8;
// At most this many blocks, each writing one f64 partial to the scratch buffer.
constexpr int64_t kMaxSumBlocks = 1024;

// The block's sum, in thread 0 (the others return garbage); a fixed tree, so the same order every run.
__device__ double block_sum(double value) {
  __shared__ double warp_sums[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_down_sync(0xFFFFFFFFu, value, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = value;
  __syncthreads();
  value = threadIdx.x < blockDim.x / 32 ? warp_sums[threadIdx.x] : 0.0;
  if (warp == 0)
    for (int offset = 16; offset > 0; offset /= 2) value += __shfl_down_sync(0xFFFFFFFFu, value, offset);
  return value;
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    sum_squares_partials_kernel(const T* __restrict__ x, int64_t count, double* __restrict__ partials) {
  double total = 0;
  float group = 0;
  int in_group = 0;
  for (int64_t i = first_index(); i < count; i += grid_stride()) {
    const float value = to_float(x[i]);
    group += value * value;
    if (++in_group == kSquaresPerGroup) {
      total += group;
      group = 0;
      in_group = 0;
    }
  }
  total += group;
  total = block_sum(total);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

__global__ void __launch_bounds__(kThreads)
    sum_partials_kernel(const double* __restrict__ partials, int count, double* __restrict__ out) {
  double total = 0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) total += partials[i];
  total = block_sum(total);
  if (threadIdx.x == 0) out[0] = total;
}

// ---- dropout ----------------------------------------------------------------------------------------

template <typename T>
__global__ void dropout_kernel(T* __restrict__ x, int64_t count, const int32_t* __restrict__ step_seed,
                               uint64_t site, uint32_t threshold, float keep_scale) {
  const uint64_t seed = dropout_site_seed(
      dropout_step_seed(static_cast<uint32_t>(step_seed[0]), static_cast<uint32_t>(step_seed[1])), site);
  for (int64_t i = first_index(); i < count; i += grid_stride())
    x[i] = dropout_keep(seed, static_cast<uint64_t>(i), threshold)
               ? from_float<T>(to_float(x[i]) * keep_scale)
               : from_float<T>(0.0f);
}

}  // namespace

void CudaBackend::do_add(Tensor& y, const Tensor& x) {
  const int64_t count = y.numel();
  if (!count) return;
  cuda::dispatch_compute(y.dtype(), "add", [&](auto zero) {
    using T = decltype(zero);
    add_kernel<T><<<cuda::blocks_for(count), kThreads, 0, stream_>>>(cuda::device_data<T>(y),
                                                                     cuda::device_data<const T>(x), count);
    CUDA_CHECK_LAUNCH("add_kernel");
  });
}

void CudaBackend::do_scale(Tensor& y, double factor) {
  const int64_t count = y.numel();
  if (!count) return;
  cuda::dispatch_compute(y.dtype(), "scale", [&](auto zero) {
    using T = decltype(zero);
    scale_kernel<T><<<cuda::blocks_for(count), kThreads, 0, stream_>>>(cuda::device_data<T>(y),
                                                                       static_cast<float>(factor), count);
    CUDA_CHECK_LAUNCH("scale_kernel");
  });
}

void CudaBackend::do_sum_squares(const Tensor& x, Tensor& out) {
  const int64_t count = x.numel();
  double* total = cuda::device_data<double>(out);
  if (!count) {
    CUDA_CHECK(cudaMemsetAsync(total, 0, sizeof(double), stream_));
    return;
  }
  // The grid depends on the size alone, so the order of summation does too.
  const int64_t per_block = int64_t{kThreads} * kSquaresPerGroup * 4;
  const int blocks = static_cast<int>(std::min(kMaxSumBlocks, (count + per_block - 1) / per_block));
  double* partials = static_cast<double*>(scratch_);
  cuda::dispatch_compute(x.dtype(), "sum_squares", [&](auto zero) {
    using T = decltype(zero);
    sum_squares_partials_kernel<T>
        <<<blocks, kThreads, 0, stream_>>>(cuda::device_data<const T>(x), count, partials);
    CUDA_CHECK_LAUNCH("sum_squares_partials_kernel");
  });
  sum_partials_kernel<<<1, kThreads, 0, stream_>>>(partials, blocks, total);
  CUDA_CHECK_LAUNCH("sum_partials_kernel");
}

void CudaBackend::do_dropout(Tensor& x, const Dropout& dropout) {
  const int64_t count = x.numel();
  if (!dropout.active() || !count) return;
  const uint32_t threshold = dropout_threshold(dropout.probability);
  const double keep_scale = 1.0 / (1.0 - dropout.probability);
  cuda::dispatch_compute(x.dtype(), "dropout", [&](auto zero) {
    using T = decltype(zero);
    dropout_kernel<T><<<cuda::blocks_for(count), kThreads, 0, stream_>>>(
        cuda::device_data<T>(x), count, cuda::device_data<const int32_t>(dropout.step_seed), dropout.site,
        threshold, static_cast<float>(keep_scale));
    CUDA_CHECK_LAUNCH("dropout_kernel");
  });
}

}  // namespace minimind
