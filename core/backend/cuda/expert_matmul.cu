// The experts' linear layers over the expert-sorted rows, all experts in one launch (a grouped product).
// Expert e owns rows [offsets[e], offsets[e+1]) (offsets i32 [E + 1] on the device, from moe_plan); its
// weight W_e [out, in] sits at element e * stride of the weights' block.
//   forward:  out[r] = x[r] W_e^T                 x C [R, in], out C [R, out] (overwritten)
//   backward: d_x[r] = d_out[r] W_e               d_x C [R, in] (overwritten)
//             d_W_e += sum_{r of e} d_out[r]^T x[r]   d_weights f32, same layout (accumulated)
// Rows past offsets[E] are neither read nor written; an expert without rows leaves its gradient as it is.
// Each block computes a 64 x 64 output tile. For the row products, a block whose rows straddle experts
// computes the tile once per expert (found by binary search in the offsets) and keeps each expert's rows;
// the weight gradient gives each (expert, out tile, in tile) one block that walks the expert's rows in
// order: no atomics, deterministic. Both accumulate in f32: f32 operands on the CUDA cores (f32 tiles in
// shared memory), bf16 operands on the tensor cores (WMMA 16 x 16 x 16, exact products, f32 sums).
#include <mma.h>

#include <type_traits>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_types.cuh"
#include "backend/cuda/moe_common.cuh"

namespace minimind {
namespace cuda {
namespace {

constexpr int kBlockRows = 64;  // output rows per block
constexpr int kBlockCols = 64;  // output columns per block

// ---- operand tiles in shared memory: put(kk, m, value) stores element (depth kk, row or column m) ----

// f32 path: tile[kk][m], widened to f32 (padded so the row loads of a k-step avoid bank conflicts).
template <int kDepth>
struct FloatTile {
  float values[kDepth][kBlockRows + 4];
  template <typename T>
  __device__ __forceinline__ void put(int kk, int m, T value) {
    values[kk][m] = to_float(value);
  }
};

// bf16 path: tile[m][kk], depth contiguous: a row-major A or a column-major B for WMMA. The leading
// dimension (kDepth + 8) keeps each 16-row fragment 32-byte aligned, as WMMA needs.
template <int kDepth>
struct alignas(128) Bf16Tile {
  static constexpr int kLeading = kDepth + 8;
  bf16 values[kBlockRows][kLeading];
  __device__ __forceinline__ void put(int kk, int m, bf16 value) { values[m][kk] = value; }
};

// ---- the two ways of computing a 64 x 64 tile ----

// CUDA cores: 16 x 16 threads, thread (ty, tx) owns rows ty + 16 i and columns tx + 16 j (strided, so a
// warp reads b without bank conflicts and a by broadcast).
struct SimtPath {
  static constexpr int kThreads = 256;
  static constexpr int kDepth = 16;
  using Tile = FloatTile<kDepth>;
  struct Accumulator {
    float sums[4][4] = {};
    __device__ __forceinline__ void multiply(const Tile& a, const Tile& b) {
      const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll
      for (int kk = 0; kk < kDepth; ++kk) {
        float a_values[4], b_values[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) a_values[i] = a.values[kk][ty + 16 * i];
#pragma unroll
        for (int j = 0; j < 4; ++j) b_values[j] = b.values[kk][tx + 16 * j];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) sums[i][j] = fmaf(a_values[i], b_values[j], sums[i][j]);
      }
    }
    // Calls write(m, n, sum) for this thread's outputs; every thread of the block calls it.
    template <typename Write>
    __device__ __forceinline__ void finish(Write&& write) const {
      const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) write(ty + 16 * i, tx + 16 * j, sums[i][j]);
    }
  };
};

// Tensor cores: 4 warps in 2 x 2, each owning a 32 x 32 quarter as 2 x 2 WMMA fragments.
struct TensorCorePath {
  static constexpr int kThreads = 128;
  static constexpr int kDepth = 32;
  using Tile = Bf16Tile<kDepth>;
  struct Accumulator {
    nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> sums[2][2];
    __device__ Accumulator() {
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) nvcuda::wmma::fill_fragment(sums[i][j], 0.0f);
    }
    __device__ __forceinline__ void multiply(const Tile& a, const Tile& b) {
      using namespace nvcuda;
      const int warp = threadIdx.x / kWarpSize, row = warp / 2 * 32, col = warp % 2 * 32;
#pragma unroll
      for (int kk = 0; kk < kDepth; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> a_fragment[2];
        wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> b_fragment[2];
#pragma unroll
        for (int i = 0; i < 2; ++i)
          wmma::load_matrix_sync(a_fragment[i], &a.values[row + 16 * i][kk], Tile::kLeading);
#pragma unroll
        for (int j = 0; j < 2; ++j)
          wmma::load_matrix_sync(b_fragment[j], &b.values[col + 16 * j][kk], Tile::kLeading);
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
          for (int j = 0; j < 2; ++j) wmma::mma_sync(sums[i][j], a_fragment[i], b_fragment[j], sums[i][j]);
      }
    }
    // The fragments' layout is opaque: they go through shared memory, then write(m, n, sum) is called for
    // a share of the tile. Every thread of the block calls it.
    template <typename Write>
    __device__ __forceinline__ void finish(Write&& write) const {
      using namespace nvcuda;
      constexpr int kLeading = kBlockCols + 4;
      __shared__ __align__(32) float staging[kBlockRows][kLeading];
      const int warp = threadIdx.x / kWarpSize, row = warp / 2 * 32, col = warp % 2 * 32;
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j)
          wmma::store_matrix_sync(&staging[row + 16 * i][col + 16 * j], sums[i][j], kLeading,
                                  wmma::mem_row_major);
      __syncthreads();
      for (int q = threadIdx.x; q < kBlockRows * kBlockCols; q += kThreads)
        write(q / kBlockCols, q % kBlockCols, staging[q / kBlockCols][q % kBlockCols]);
      __syncthreads();  // the next tile's fragments overwrite `staging`
    }
  };
};

static_assert(SimtPath::kThreads % SimtPath::kDepth == 0 && SimtPath::kThreads % kBlockRows == 0);
static_assert(TensorCorePath::kThreads % TensorCorePath::kDepth == 0 &&
              TensorCorePath::kThreads % kBlockRows == 0);

// ---- loaders: one k-step of an operand from global memory into a tile, zero outside the valid ranges ----

// Element (kk, m) = src[(m0 + m) * ld + k0 + kk] (the depth is contiguous in memory), valid for rows in
// [m_begin, m_end) and depth below k_end. Thread t always loads depth t % kDepth of rows t / kDepth + j
// (kThreads / kDepth), so the row checks are made once.
template <typename T, typename Path>
struct DepthContiguousLoader {
  static constexpr int kLoads = Path::kDepth * kBlockRows / Path::kThreads;
  static constexpr int kRowStep = Path::kThreads / Path::kDepth;
  static_assert(kLoads <= 32);
  const T* first_row;  // src + (m0 + m_first) * ld + kk
  int64_t row_step;    // kRowStep rows, in elements
  int64_t k_end;
  int kk, m_first;
  unsigned valid_rows;  // bit j: row m_first + j kRowStep lies in [m_begin, m_end)

  __device__ DepthContiguousLoader(const T* src, int64_t ld, int64_t m0, int64_t m_begin, int64_t m_end,
                                   int64_t k_end_)
      : k_end(k_end_) {
    kk = threadIdx.x % Path::kDepth;
    m_first = threadIdx.x / Path::kDepth;
    row_step = kRowStep * ld;
    first_row = src + (m0 + m_first) * ld + kk;
    valid_rows = 0;
#pragma unroll
    for (int j = 0; j < kLoads; ++j) {
      const int64_t row = m0 + m_first + j * kRowStep;
      if (row >= m_begin && row < m_end) valid_rows |= 1u << j;
    }
  }
  __device__ __forceinline__ void load(int64_t k0, typename Path::Tile& tile) const {
    const bool inside = k0 + kk < k_end;
#pragma unroll
    for (int j = 0; j < kLoads; ++j)
      tile.put(kk, m_first + j * kRowStep,
               inside && (valid_rows >> j & 1u) ? first_row[j * row_step + k0] : from_float<T>(0.0f));
  }
};

// Element (kk, m) = src[(k0 + kk) * ld + m0 + m] (the rows are contiguous in memory), valid for depth in
// [k_begin, k_end) and m0 + m below m_end. Thread t always loads column t % 64 at depths t / 64 + j
// (kThreads / 64).
template <typename T, typename Path>
struct RowContiguousLoader {
  static constexpr int kLoads = Path::kDepth * kBlockRows / Path::kThreads;
  static constexpr int kDepthStep = Path::kThreads / kBlockRows;
  const T* column_start;  // src + m0 + m
  int64_t ld, k_begin, k_end;
  int kk_first, m;
  bool valid_column;

  __device__ RowContiguousLoader(const T* src, int64_t ld_, int64_t m0, int64_t m_end, int64_t k_begin_,
                                 int64_t k_end_)
      : ld(ld_), k_begin(k_begin_), k_end(k_end_) {
    kk_first = threadIdx.x / kBlockRows;
    m = threadIdx.x % kBlockRows;
    valid_column = m0 + m < m_end;
    column_start = src + m0 + m;
  }
  __device__ __forceinline__ void load(int64_t k0, typename Path::Tile& tile) const {
#pragma unroll
    for (int j = 0; j < kLoads; ++j) {
      const int kk = kk_first + j * kDepthStep;
      const int64_t depth = k0 + kk;
      tile.put(
          kk, m,
          valid_column && depth >= k_begin && depth < k_end ? column_start[depth * ld] : from_float<T>(0.0f));
    }
  }
};

// The loader of B_e's tiles, element (kk, n) = B_e[k0 + kk, col0 + n]: B_e = W_e^T with W_e [cols, depth]
// (the forward) or B_e = W_e with W_e [depth, cols] (the input gradient).
template <bool kWeightTransposed, typename T, typename Path>
__device__ __forceinline__ auto weight_loader(const T* w, int64_t depth, int64_t col0, int64_t cols) {
  if constexpr (kWeightTransposed)
    return DepthContiguousLoader<T, Path>(w, depth, col0, 0, cols, depth);
  else
    return RowContiguousLoader<T, Path>(w, cols, col0, cols, 0, depth);
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

// out[r] = a[r] B_e for the rows r of each expert, a [rows, depth], out [rows, cols].
template <typename T, typename Path, bool kWeightTransposed>
__global__ void __launch_bounds__(Path::kThreads)
    grouped_product_kernel(const T* __restrict__ a, int64_t rows, int64_t depth,
                           const T* __restrict__ weights, int64_t weight_stride, int64_t cols,
                           const int32_t* __restrict__ offsets, int num_experts, T* __restrict__ out) {
  __shared__ typename Path::Tile a_tile, b_tile;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kBlockRows;
  const int64_t col0 = static_cast<int64_t>(blockIdx.y) * kBlockCols;
  const int64_t tile_end = row0 + kBlockRows < rows ? row0 + kBlockRows : rows;
  // The expert loop's bounds are the same for every thread, so the barriers inside are reached by all.
  for (int e = first_expert_at(offsets, num_experts, row0); e < num_experts; ++e) {
    const int64_t expert_begin = offsets[e], expert_end = offsets[e + 1];
    if (expert_begin >= tile_end) break;
    const int64_t begin = expert_begin > row0 ? expert_begin : row0;
    const int64_t end = expert_end < tile_end ? expert_end : tile_end;
    if (begin >= end) continue;
    const DepthContiguousLoader<T, Path> a_loader(a, depth, row0, begin, end, depth);
    const auto w_loader =
        weight_loader<kWeightTransposed, T, Path>(weights + e * weight_stride, depth, col0, cols);
    typename Path::Accumulator sums;
    for (int64_t k0 = 0; k0 < depth; k0 += Path::kDepth) {
      a_loader.load(k0, a_tile);
      w_loader.load(k0, b_tile);
      __syncthreads();
      sums.multiply(a_tile, b_tile);
      __syncthreads();
    }
    sums.finish([&](int m, int n, float sum) {
      const int64_t row = row0 + m, col = col0 + n;
      if (row >= begin && row < end && col < cols) out[row * cols + col] = from_float<T>(sum);
    });
  }
}

// d_W_e[o, i] += sum_{r of e} d_out[r, o] x[r, i]; block (out tile, in tile, expert e).
template <typename T, typename Path>
__global__ void __launch_bounds__(Path::kThreads)
    weight_gradient_kernel(const T* __restrict__ d_out, const T* __restrict__ x, int64_t out_features,
                           int64_t in_features, const int32_t* __restrict__ offsets,
                           float* __restrict__ d_weights, int64_t gradient_stride) {
  __shared__ typename Path::Tile d_out_tile, x_tile;
  const int e = blockIdx.z;
  const int64_t begin = offsets[e], end = offsets[e + 1];
  if (begin >= end) return;  // the whole block leaves together
  const int64_t out0 = static_cast<int64_t>(blockIdx.x) * kBlockRows;
  const int64_t in0 = static_cast<int64_t>(blockIdx.y) * kBlockCols;
  const RowContiguousLoader<T, Path> d_out_loader(d_out, out_features, out0, out_features, begin, end);
  const RowContiguousLoader<T, Path> x_loader(x, in_features, in0, in_features, begin, end);
  typename Path::Accumulator sums;
  for (int64_t r0 = begin; r0 < end; r0 += Path::kDepth) {
    d_out_loader.load(r0, d_out_tile);
    x_loader.load(r0, x_tile);
    __syncthreads();
    sums.multiply(d_out_tile, x_tile);
    __syncthreads();
  }
  float* gradient = d_weights + e * gradient_stride;
  sums.finish([&](int m, int n, float sum) {
    const int64_t o = out0 + m, in = in0 + n;
    if (o < out_features && in < in_features) gradient[o * in_features + in] += sum;
  });
}

// f32 on the CUDA cores, bf16 on the tensor cores.
template <typename T>
using PathFor = std::conditional_t<std::is_same_v<T, bf16>, TensorCorePath, SimtPath>;

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
    using Path = cuda::PathFor<T>;
    const dim3 grid(cuda::tiles(rows, cuda::kBlockRows), cuda::tiles(out_features, cuda::kBlockCols));
    cuda::grouped_product_kernel<T, Path, true><<<grid, Path::kThreads, 0, stream_>>>(
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
  if (rows == 0 || in_features == 0 || weights.count == 0) return;
  cuda::dispatch_compute(x.dtype(), "expert_matmul_backward", [&](auto zero) {
    using T = decltype(zero);
    using Path = cuda::PathFor<T>;
    const dim3 input_grid(cuda::tiles(rows, cuda::kBlockRows), cuda::tiles(in_features, cuda::kBlockCols));
    cuda::grouped_product_kernel<T, Path, false><<<input_grid, Path::kThreads, 0, stream_>>>(
        cuda::device_data<T>(d_out), rows, out_features, cuda::device_data<T>(weights.block), weights.stride,
        in_features, cuda::device_data<int32_t>(expert_offsets), static_cast<int>(weights.count),
        cuda::device_data<T>(d_x));
    CUDA_CHECK_LAUNCH("grouped_product_kernel");
    if (out_features == 0) return;
    const dim3 weight_grid(cuda::tiles(out_features, cuda::kBlockRows),
                           cuda::tiles(in_features, cuda::kBlockCols), static_cast<unsigned>(weights.count));
    cuda::weight_gradient_kernel<T, Path><<<weight_grid, Path::kThreads, 0, stream_>>>(
        cuda::device_data<T>(d_out), cuda::device_data<T>(x), out_features, in_features,
        cuda::device_data<int32_t>(expert_offsets), cuda::device_data<float>(d_weights.block),
        d_weights.stride);
    CUDA_CHECK_LAUNCH("weight_gradient_kernel");
  });
}

}  // namespace minimind
