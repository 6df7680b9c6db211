// Pieces shared by the mixture-of-experts kernels (router, aux loss, dispatch, grouped products): warp and
// block reductions, grid sizes for one-warp-per-row and one-block-per-row kernels, and the dynamic shared
// memory limit for kernels whose tables grow with the number of experts.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/cuda_check.h"

namespace minimind::cuda {

constexpr unsigned kFullWarp = 0xffffffffu;
constexpr int kWarpSize = 32;

template <typename T>
__device__ __forceinline__ T warp_sum(T value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    value += __shfl_xor_sync(kFullWarp, value, offset);
  return value;
}

__device__ __forceinline__ float warp_max(float value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    value = fmaxf(value, __shfl_xor_sync(kFullWarp, value, offset));
  return value;
}

// The sum over the block, returned to every thread. blockDim.x is a multiple of 32 (at most 1024); every
// thread of the block must call it. The order of the additions is fixed, so the result is deterministic.
template <typename T>
__device__ T block_sum(T value) {
  __shared__ T partial[kWarpSize];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int warps = blockDim.x / kWarpSize;
  value = warp_sum(value);
  __syncthreads();  // a previous call's readers are done with `partial`
  if (lane == 0) partial[warp] = value;
  __syncthreads();
  value = lane < warps ? partial[lane] : T(0);
  return warp_sum(value);
}

// Blocks for `rows` independent rows handled `rows_per_block` at a time; kernels loop with a grid stride, so
// the grid is capped.
inline unsigned row_blocks(int64_t rows, int64_t rows_per_block) {
  const int64_t blocks = (rows + rows_per_block - 1) / rows_per_block;
  constexpr int64_t kMaxBlocks = int64_t{1} << 20;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks));
}

// Kernels may use up to 48 KB of dynamic shared memory without asking; beyond that the limit is raised
// per kernel (up to the device's opt-in maximum, which the caller has checked).
template <typename Kernel>
void allow_dynamic_shared_memory(Kernel kernel, size_t bytes) {
  constexpr size_t kDefaultLimit = 48u << 10;
  if (bytes > kDefaultLimit)
    CUDA_CHECK(
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

}  // namespace minimind::cuda
