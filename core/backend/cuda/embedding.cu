// embedding: out[n] = table[ids[n]]; ids i32 [N], table C [V, H], out C [N, H]. Nothing is saved.
// Backward: d_table[ids[n]] += d_out[n]; d_out C, d_table G (f32), accumulating. Repeated ids make the
// scatter a reduction; it is done with f32 atomicAdd, so the order in which the rows of one id add up
// (and the last bits of their sum) may differ from run to run, within f32 rounding.
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_types.cuh"

namespace minimind {
namespace {

using cuda::blocks_for;
using cuda::device_data;
using cuda::kThreads;

// One thread per element of out, over a grid-stride loop; a warp reads one contiguous piece of a table row.
template <typename T>
__global__ void embedding_forward_kernel(const int32_t* __restrict__ ids, const T* __restrict__ table,
                                         T* __restrict__ out, int64_t rows, int64_t hidden) {
  const int64_t total = rows * hidden;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / hidden;
    const int64_t h = i - n * hidden;
    out[i] = table[int64_t(ids[n]) * hidden + h];
  }
}

template <typename T>
__global__ void embedding_backward_kernel(const int32_t* __restrict__ ids, const T* __restrict__ d_out,
                                          float* __restrict__ d_table, int64_t rows, int64_t hidden) {
  const int64_t total = rows * hidden;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / hidden;
    const int64_t h = i - n * hidden;
    atomicAdd(d_table + int64_t(ids[n]) * hidden + h, cuda::to_float(d_out[i]));
  }
}

}  // namespace

void CudaBackend::do_embedding_forward(const Tensor& ids, const Tensor& table, Tensor& out) {
  const int64_t rows = ids.dim(0);
  const int64_t hidden = table.dim(1);
  if (rows * hidden == 0) return;
  cuda::dispatch_compute(table.dtype(), "embedding_forward", [&](auto zero) {
    using T = decltype(zero);
    embedding_forward_kernel<T><<<blocks_for(rows * hidden), kThreads, 0, stream()>>>(
        device_data<int32_t>(ids), device_data<T>(table), device_data<T>(out), rows, hidden);
    CUDA_CHECK_LAUNCH("embedding_forward_kernel");
  });
}

void CudaBackend::do_embedding_backward(const Tensor& ids, const Tensor& d_out, Tensor& d_table) {
  const int64_t rows = ids.dim(0);
  const int64_t hidden = d_table.dim(1);
  if (rows * hidden == 0) return;
  cuda::dispatch_compute(d_out.dtype(), "embedding_backward", [&](auto zero) {
    using T = decltype(zero);
    embedding_backward_kernel<T><<<blocks_for(rows * hidden), kThreads, 0, stream()>>>(
        device_data<int32_t>(ids), device_data<T>(d_out), device_data<float>(d_table), rows, hidden);
    CUDA_CHECK_LAUNCH("embedding_backward_kernel");
  });
}

}  // namespace minimind
