// Warp and block reductions (sum, max) for the row kernels: butterfly shuffles within a warp, then one
// value per warp through shared memory. Every thread gets the result. The order of the additions depends
// only on the block size, so a reduction gives the same bits on every run.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace minimind::cuda {

// Threads for a kernel that gives one block to each row of `width` elements: whole warps, about one
// element per thread for narrow rows, at most `max_threads` for wide ones.
inline int threads_for_row(int64_t width, int max_threads = 512) {
  const int64_t warps = (width + 31) / 32;
  const int64_t threads = warps * 32;
  return threads < 32 ? 32 : (threads > max_threads ? max_threads : static_cast<int>(threads));
}

// Blocks for a grid-stride loop over `rows` rows, one block per row up to the largest grid it is worth.
inline unsigned blocks_for_rows(int64_t rows) {
  constexpr int64_t kMaxBlocks = 65535 * 16;
  return static_cast<unsigned>(rows < 1 ? 1 : (rows > kMaxBlocks ? kMaxBlocks : rows));
}

constexpr unsigned kFullWarp = 0xffffffffu;

template <typename T>
__device__ __forceinline__ T warp_sum(T value) {
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(kFullWarp, value, offset);
  return value;
}

template <typename T>
__device__ __forceinline__ T warp_max(T value) {
  for (int offset = 16; offset > 0; offset /= 2)
    value = max(value, __shfl_xor_sync(kFullWarp, value, offset));
  return value;
}

namespace detail {

// combine(a, b) over the whole block. blockDim.x must be a multiple of 32 (whole warps: the shuffles use
// the full mask) and at most 1024. Every thread of the block must call it (it synchronizes).
template <typename T, typename WarpReduce>
__device__ __forceinline__ T block_reduce(T value, T identity, WarpReduce warp_reduce) {
  __shared__ T per_warp[32];
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int warps = blockDim.x / 32;
  value = warp_reduce(value);
  __syncthreads();  // a previous call's readers are done with per_warp
  if (lane == 0) per_warp[warp] = value;
  __syncthreads();
  if (warp == 0) {
    value = warp_reduce(lane < warps ? per_warp[lane] : identity);
    if (lane == 0) per_warp[0] = value;
  }
  __syncthreads();
  return per_warp[0];
}

}  // namespace detail

// The sum of `value` over the block (f32 or f64), returned to every thread.
template <typename T>
__device__ __forceinline__ T block_sum(T value) {
  return detail::block_reduce(value, T(0), [](T v) { return warp_sum(v); });
}

// The maximum of `value` over the block, returned to every thread; `lowest` is the identity (-INFINITY).
template <typename T>
__device__ __forceinline__ T block_max(T value, T lowest) {
  return detail::block_reduce(value, lowest, [](T v) { return warp_max(v); });
}

}  // namespace minimind::cuda
