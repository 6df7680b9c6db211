// rope_split: the fused projection qkv C [B, T, (Hq + 2 Hkv) D] split into q C [B, T, Hq, D] and rows
// kv_offset .. kv_offset + T - 1 of k, v C [B, S_cap, Hkv, D], with the rotary embedding (rotate-half)
// applied to q and k at position p = kv_offset + t:  out[i] = x[i] cos[p, i] + rotate_half(x)[i] sin[p, i],
// cos, sin S (f32) [P, D]. Nothing is saved: the backward is the transpose of this linear map (kv_offset 0,
// S_cap = T). One block per token row, one thread per element of it; f32 math, rounded once to C.
#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_types.cuh"

namespace minimind {
namespace {

using cuda::device_data;
using cuda::from_float;
using cuda::to_float;

struct RopeDims {
  int64_t rows;      // B T
  int64_t seq;       // T
  int64_t q_heads;   // Hq
  int64_t kv_heads;  // Hkv
  int64_t head_dim;  // D, even
  __host__ __device__ int64_t qkv_width() const { return (q_heads + 2 * kv_heads) * head_dim; }
};

// Element i of rope(x) for one head: the first half is x1 cos - x2 sin, the second x2 cos + x1 sin.
template <typename T>
__device__ __forceinline__ float rotated(const T* x, const float* cos, const float* sin, int64_t i,
                                         int64_t half) {
  if (i < half) return to_float(x[i]) * cos[i] - to_float(x[i + half]) * sin[i];
  return to_float(x[i]) * cos[i] + to_float(x[i - half]) * sin[i];
}

// Element i of rope^T(d_y): exact for any table, not only tables with equal halves.
template <typename T>
__device__ __forceinline__ float rotated_transpose(const T* d_y, const float* cos, const float* sin,
                                                   int64_t i, int64_t half) {
  if (i < half) return to_float(d_y[i]) * cos[i] + to_float(d_y[i + half]) * sin[i + half];
  return to_float(d_y[i]) * cos[i] - to_float(d_y[i - half]) * sin[i - half];
}

template <typename T>
__global__ void rope_split_forward_kernel(const T* __restrict__ qkv, const float* __restrict__ cos_table,
                                          const float* __restrict__ sin_table, int64_t kv_offset,
                                          int64_t cache_rows, RopeDims dims, T* __restrict__ q,
                                          T* __restrict__ k, T* __restrict__ v) {
  const int64_t D = dims.head_dim, half = D / 2, Hq = dims.q_heads, Hkv = dims.kv_heads;
  const int64_t width = dims.qkv_width();
  for (int64_t row = blockIdx.x; row < dims.rows; row += gridDim.x) {
    const int64_t b = row / dims.seq, t = row - b * dims.seq, position = kv_offset + t;
    const float* c = cos_table + position * D;
    const float* s = sin_table + position * D;
    const T* x = qkv + row * width;
    const int64_t cache_row = b * cache_rows + position;
    for (int64_t column = threadIdx.x; column < width; column += blockDim.x) {
      const int64_t head = column / D, i = column - head * D;
      const T* x_head = x + head * D;
      if (head < Hq) {
        q[(row * Hq + head) * D + i] = from_float<T>(rotated(x_head, c, s, i, half));
      } else if (head < Hq + Hkv) {
        k[(cache_row * Hkv + head - Hq) * D + i] = from_float<T>(rotated(x_head, c, s, i, half));
      } else {
        v[(cache_row * Hkv + head - Hq - Hkv) * D + i] = x_head[i];
      }
    }
  }
}

template <typename T>
__global__ void rope_split_backward_kernel(const T* __restrict__ d_q, const T* __restrict__ d_k,
                                           const T* __restrict__ d_v, const float* __restrict__ cos_table,
                                           const float* __restrict__ sin_table, RopeDims dims,
                                           T* __restrict__ d_qkv) {
  const int64_t D = dims.head_dim, half = D / 2, Hq = dims.q_heads, Hkv = dims.kv_heads;
  const int64_t width = dims.qkv_width();
  for (int64_t row = blockIdx.x; row < dims.rows; row += gridDim.x) {
    const int64_t position = row % dims.seq;
    const float* c = cos_table + position * D;
    const float* s = sin_table + position * D;
    T* d_x = d_qkv + row * width;
    for (int64_t column = threadIdx.x; column < width; column += blockDim.x) {
      const int64_t head = column / D, i = column - head * D;
      if (head < Hq) {
        d_x[column] = from_float<T>(rotated_transpose(d_q + (row * Hq + head) * D, c, s, i, half));
      } else if (head < Hq + Hkv) {
        d_x[column] = from_float<T>(rotated_transpose(d_k + (row * Hkv + head - Hq) * D, c, s, i, half));
      } else {
        d_x[column] = d_v[(row * Hkv + head - Hq - Hkv) * D + i];
      }
    }
  }
}

}  // namespace

void CudaBackend::do_rope_split_forward(const Tensor& qkv, const Tensor& cos, const Tensor& sin,
                                        int64_t kv_offset, Tensor& q, Tensor& k, Tensor& v) {
  const RopeDims dims{qkv.dim(0) * qkv.dim(1), qkv.dim(1), q.dim(2), k.dim(2), q.dim(3)};
  if (dims.rows == 0 || dims.qkv_width() == 0) return;
  cuda::dispatch_compute(qkv.dtype(), "rope_split_forward", [&](auto zero) {
    using T = decltype(zero);
    rope_split_forward_kernel<T>
        <<<cuda::blocks_for_rows(dims.rows), cuda::threads_for_row(dims.qkv_width(), 256), 0, stream()>>>(
            device_data<T>(qkv), device_data<float>(cos), device_data<float>(sin), kv_offset, k.dim(1), dims,
            device_data<T>(q), device_data<T>(k), device_data<T>(v));
    CUDA_CHECK_LAUNCH("rope_split_forward_kernel");
  });
}

void CudaBackend::do_rope_split_backward(const Tensor& d_q, const Tensor& d_k, const Tensor& d_v,
                                         const Tensor& cos, const Tensor& sin, Tensor& d_qkv) {
  const RopeDims dims{d_q.dim(0) * d_q.dim(1), d_q.dim(1), d_q.dim(2), d_k.dim(2), d_q.dim(3)};
  if (dims.rows == 0 || dims.qkv_width() == 0) return;
  cuda::dispatch_compute(d_q.dtype(), "rope_split_backward", [&](auto zero) {
    using T = decltype(zero);
    rope_split_backward_kernel<T>
        <<<cuda::blocks_for_rows(dims.rows), cuda::threads_for_row(dims.qkv_width(), 256), 0, stream()>>>(
            device_data<T>(d_q), device_data<T>(d_k), device_data<T>(d_v), device_data<float>(cos),
            device_data<float>(sin), dims, device_data<T>(d_qkv));
    CUDA_CHECK_LAUNCH("rope_split_backward_kernel");
  });
}

}  // namespace minimind
