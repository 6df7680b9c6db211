// The experts' linear layers over the expert-sorted rows, all experts in one launch (a grouped product).
// Expert e owns rows [offsets[e], offsets[e+1]) (offsets i32 [E + 1] on the device, from moe_plan); its
// weight W_e [out, in] sits at element e * stride of the weights' block.
//   forward:  out[r] = x[r] W_e^T                 x C [R, in], out C [R, out] (overwritten)
//   backward: d_x[r] = d_out[r] W_e               d_x C [R, in] (overwritten)
//             d_W_e += sum_{r of e} d_out[r]^T x[r]   d_weights f32, same layout (accumulated)
// Rows past offsets[E] are neither read nor written; an expert without rows leaves its gradient as it is.
// The row products tile the output 64 x 64 per block; a block whose rows straddle experts computes the
// tile once per expert and keeps each expert's rows. Operands are widened to f32 in shared memory and
// accumulated in f32 (bf16 products are exact in f32). The weight gradient gives each (expert, out tile,
// in tile) one block that walks the expert's rows in order: no atomics, deterministic.
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_types.cuh"
#include "backend/cuda/moe_common.cuh"

namespace minimind {
namespace cuda {
namespace {

constexpr int kTileM = 64;  // output rows per block
constexpr int kTileN = 64;  // output columns per block
constexpr int kTileK = 16;  // depth per step
constexpr int kTilePad = 4;
constexpr int kProductThreads = 256;  // 16 x 16 threads, each computing 4 x 4 outputs
constexpr int kThreadGrid = 16;
constexpr int kPerThread = 4;
static_assert(kThreadGrid * kPerThread == kTileM && kThreadGrid * kPerThread == kTileN);
static_assert(kProductThreads == kThreadGrid * kThreadGrid);

// tile[kk][m]: depth kk, row (or column) m of the output tile, in f32.
using Tile = float[kTileK][kTileM + kTilePad];

constexpr int kLoadsPerThread = kTileK * kTileM / kProductThreads;

// Fills tile[kk][m] = src[(m0 + m) * ld + k0 + kk] step after step (the depth is contiguous in memory), zero
// for rows outside [m_begin, m_end) or depth >= k_end. Thread t always loads depth kk = t % 16 of rows
// t / 16 + 16 p, so the row checks are made once.
template <typename T>
struct DepthContiguousLoader {
  const T* first_row;  // src + (m0 + m_first) * ld + kk
  int64_t row_step;    // 16 ld
  int64_t depth;       // kk
  int64_t k_end;
  int m_first;
  unsigned valid_rows;  // bit p: row m_first + 16 p is inside [m_begin, m_end)

  __device__ DepthContiguousLoader(const T* src, int64_t ld, int64_t m0, int64_t m_begin, int64_t m_end,
                                   int64_t k_end_)
      : k_end(k_end_) {
    m_first = threadIdx.x / kTileK;
    depth = threadIdx.x % kTileK;
    row_step = kProductThreads / kTileK * ld;
    first_row = src + (m0 + m_first) * ld + depth;
    valid_rows = 0;
#pragma unroll
    for (int p = 0; p < kLoadsPerThread; ++p) {
      const int64_t row = m0 + m_first + p * (kProductThreads / kTileK);
      if (row >= m_begin && row < m_end) valid_rows |= 1u << p;
    }
  }
  __device__ __forceinline__ void load(int64_t k0, Tile& tile) const {
    const bool inside = k0 + depth < k_end;
#pragma unroll
    for (int p = 0; p < kLoadsPerThread; ++p)
      tile[depth][m_first + p * (kProductThreads / kTileK)] =
          inside && (valid_rows >> p & 1u) ? to_float(first_row[p * row_step + k0]) : 0.0f;
  }
};

// Fills tile[kk][m] = src[(k0 + kk) * ld + m0 + m] step after step (the rows are contiguous in memory), zero
// for depth outside [k_begin, k_end) or m0 + m >= m_end. Thread t always loads column m = t % 64 at depths
// t / 64 + 4 p.
template <typename T>
struct RowContiguousLoader {
  const T* column_start;  // src + m0 + m
  int64_t ld, k_begin, k_end;
  int kk_first, m;
  bool valid_column;

  __device__ RowContiguousLoader(const T* src, int64_t ld_, int64_t m0, int64_t m_end, int64_t k_begin_,
                                 int64_t k_end_)
      : ld(ld_), k_begin(k_begin_), k_end(k_end_) {
    kk_first = threadIdx.x / kTileM;
    m = threadIdx.x % kTileM;
    valid_column = m0 + m < m_end;
    column_start = src + m0 + m;
  }
  __device__ __forceinline__ void load(int64_t k0, Tile& tile) const {
#pragma unroll
    for (int p = 0; p < kLoadsPerThread; ++p) {
      const int kk = kk_first + p * (kProductThreads / kTileM);
      const int64_t depth = k0 + kk;
      tile[kk][m] =
          valid_column && depth >= k_begin && depth < k_end ? to_float(column_start[depth * ld]) : 0.0f;
    }
  }
};

// acc[i][j] += sum_kk a[kk][ty + 16 i] * b[kk][tx + 16 j]: thread (ty, tx) owns rows ty + 16 i and columns
// tx + 16 j of the tile (strided, so a warp reads b without bank conflicts and a by broadcast).
__device__ __forceinline__ void multiply_tiles(const Tile& a, const Tile& b,
                                               float (&acc)[kPerThread][kPerThread]) {
  const int tx = threadIdx.x % kThreadGrid, ty = threadIdx.x / kThreadGrid;
#pragma unroll
  for (int kk = 0; kk < kTileK; ++kk) {
    float a_values[kPerThread], b_values[kPerThread];
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) a_values[i] = a[kk][ty + kThreadGrid * i];
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) b_values[j] = b[kk][tx + kThreadGrid * j];
#pragma unroll
    for (int i = 0; i < kPerThread; ++i)
#pragma unroll
      for (int j = 0; j < kPerThread; ++j) acc[i][j] = fmaf(a_values[i], b_values[j], acc[i][j]);
  }
}

// The largest expert e < E with offsets[e] <= row (0 when none): the first expert that can own `row`.
__device__ int first_expert_at(const int32_t* offsets, int num_experts, int64_t row) {
  int low = 0, high = num_experts - 1;
  while (low < high) {
    const int middle = (low + high + 1) / 2;
    if (offsets[middle] <= row)
      low = middle;
    else
      high = middle - 1;
  }
  return low;
}

// The loader of B_e's tiles: tile[kk][n] = B_e[k0 + kk, col0 + n], B_e = W_e^T (W_e [cols, depth]) or W_e
// (W_e [depth, cols]).
template <bool kWeightTransposed, typename T>
__device__ __forceinline__ auto weight_loader(const T* w, int64_t depth, int64_t col0, int64_t cols) {
  if constexpr (kWeightTransposed)
    return DepthContiguousLoader<T>(w, depth, col0, 0, cols, depth);
  else
    return RowContiguousLoader<T>(w, cols, col0, cols, 0, depth);
}

// out[r] = a[r] B_e for the rows r of each expert, a [rows, depth], out [rows, cols]; B_e = W_e^T with W_e
// [cols, depth] (kWeightTransposed: the forward) or B_e = W_e with W_e [depth, cols] (the input gradient).
template <typename T, bool kWeightTransposed>
__global__ void __launch_bounds__(kProductThreads)
    grouped_product_kernel(const T* __restrict__ a, int64_t rows, int64_t depth,
                           const T* __restrict__ weights, int64_t weight_stride, int64_t cols,
                           const int32_t* __restrict__ offsets, int num_experts, T* __restrict__ out) {
  __shared__ Tile a_tile, b_tile;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kTileM,
                col0 = static_cast<int64_t>(blockIdx.y) * kTileN;
  const int64_t tile_end = row0 + kTileM < rows ? row0 + kTileM : rows;
  const int tx = threadIdx.x % kThreadGrid, ty = threadIdx.x / kThreadGrid;
  // The expert loop's bounds are the same for every thread, so the barriers inside are reached by all.
  for (int e = first_expert_at(offsets, num_experts, row0); e < num_experts; ++e) {
    const int64_t expert_begin = offsets[e], expert_end = offsets[e + 1];
    if (expert_begin >= tile_end) break;
    const int64_t begin = expert_begin > row0 ? expert_begin : row0;
    const int64_t end = expert_end < tile_end ? expert_end : tile_end;
    if (begin >= end) continue;
    const T* w = weights + e * weight_stride;
    const DepthContiguousLoader<T> a_loader(a, depth, row0, begin, end, depth);
    const auto w_loader = weight_loader<kWeightTransposed>(w, depth, col0, cols);
    float acc[kPerThread][kPerThread] = {};
    for (int64_t k0 = 0; k0 < depth; k0 += kTileK) {
      a_loader.load(k0, a_tile);
      w_loader.load(k0, b_tile);
      __syncthreads();
      multiply_tiles(a_tile, b_tile, acc);
      __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
      const int64_t row = row0 + ty + kThreadGrid * i;
      if (row < begin || row >= end) continue;
#pragma unroll
      for (int j = 0; j < kPerThread; ++j) {
        const int64_t col = col0 + tx + kThreadGrid * j;
        if (col < cols) out[row * cols + col] = from_float<T>(acc[i][j]);
      }
    }
  }
}

// d_W_e[o, i] += sum_{r of e} d_out[r, o] x[r, i]; block (out tile, in tile, expert e).
template <typename T>
__global__ void __launch_bounds__(kProductThreads)
    weight_gradient_kernel(const T* __restrict__ d_out, const T* __restrict__ x, int64_t out_features,
                           int64_t in_features, const int32_t* __restrict__ offsets,
                           float* __restrict__ d_weights, int64_t gradient_stride) {
  __shared__ Tile d_out_tile, x_tile;
  const int e = blockIdx.z;
  const int64_t begin = offsets[e], end = offsets[e + 1];
  if (begin >= end) return;  // the whole block leaves together
  const int64_t out0 = static_cast<int64_t>(blockIdx.x) * kTileM,
                in0 = static_cast<int64_t>(blockIdx.y) * kTileN;
  const RowContiguousLoader<T> d_out_loader(d_out, out_features, out0, out_features, begin, end);
  const RowContiguousLoader<T> x_loader(x, in_features, in0, in_features, begin, end);
  float acc[kPerThread][kPerThread] = {};
  for (int64_t r0 = begin; r0 < end; r0 += kTileK) {
    d_out_loader.load(r0, d_out_tile);
    x_loader.load(r0, x_tile);
    __syncthreads();
    multiply_tiles(d_out_tile, x_tile, acc);
    __syncthreads();
  }
  const int tx = threadIdx.x % kThreadGrid, ty = threadIdx.x / kThreadGrid;
  float* gradient = d_weights + e * gradient_stride;
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int64_t o = out0 + ty + kThreadGrid * i;
    if (o >= out_features) continue;
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) {
      const int64_t in = in0 + tx + kThreadGrid * j;
      if (in < in_features) gradient[o * in_features + in] += acc[i][j];
    }
  }
}

unsigned tiles(int64_t extent, int tile) {
  return static_cast<unsigned>((extent + tile - 1) / tile);
}

}  // namespace
}  // namespace cuda

void CudaBackend::do_expert_matmul(const Tensor& x, const ExpertWeights& weights,
                                   const Tensor& expert_offsets, Tensor& out) {
  const int64_t rows = x.dim(0), in_features = x.dim(1), out_features = out.dim(1);
  if (rows == 0 || out_features == 0 || weights.count == 0) return;
  cuda::dispatch_compute(x.dtype(), "expert_matmul", [&](auto zero) {
    using T = decltype(zero);
    const dim3 grid(cuda::tiles(rows, cuda::kTileM), cuda::tiles(out_features, cuda::kTileN));
    cuda::grouped_product_kernel<T, true><<<grid, cuda::kProductThreads, 0, stream_>>>(
        cuda::device_data<T>(x), rows, in_features, cuda::device_data<T>(weights.block), weights.stride,
        out_features, cuda::device_data<int32_t>(expert_offsets), static_cast<int>(weights.count),
        cuda::device_data<T>(out));
    CUDA_CHECK_LAUNCH("grouped_product_kernel");
  });
}

void CudaBackend::do_expert_matmul_backward(const Tensor& d_out, const Tensor& x,
                                            const ExpertWeights& weights, const Tensor& expert_offsets,
                                            Tensor& d_x, const ExpertWeights& d_weights) {
  const int64_t rows = x.dim(0), in_features = x.dim(1), out_features = d_out.dim(1);
  if (rows == 0 || weights.count == 0) return;
  cuda::dispatch_compute(x.dtype(), "expert_matmul_backward", [&](auto zero) {
    using T = decltype(zero);
    if (in_features > 0) {
      const dim3 grid(cuda::tiles(rows, cuda::kTileM), cuda::tiles(in_features, cuda::kTileN));
      cuda::grouped_product_kernel<T, false><<<grid, cuda::kProductThreads, 0, stream_>>>(
          cuda::device_data<T>(d_out), rows, out_features, cuda::device_data<T>(weights.block),
          weights.stride, in_features, cuda::device_data<int32_t>(expert_offsets),
          static_cast<int>(weights.count), cuda::device_data<T>(d_x));
      CUDA_CHECK_LAUNCH("grouped_product_kernel");
    }
    if (in_features > 0 && out_features > 0) {
      const dim3 grid(cuda::tiles(out_features, cuda::kTileM), cuda::tiles(in_features, cuda::kTileN),
                      static_cast<unsigned>(weights.count));
      cuda::weight_gradient_kernel<T><<<grid, cuda::kProductThreads, 0, stream_>>>(
          cuda::device_data<T>(d_out), cuda::device_data<T>(x), out_features, in_features,
          cuda::device_data<int32_t>(expert_offsets), cuda::device_data<float>(d_weights.block),
          d_weights.stride);
      CUDA_CHECK_LAUNCH("weight_gradient_kernel");
    }
  });
}

}  // namespace minimind
