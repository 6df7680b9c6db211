// swiglu: out[n] = silu(gate[n]) * up[n], silu(g) = g * sigmoid(g); gate_up C [N, 2I] holds gate in columns
// [0, I) and up in [I, 2I), out C [N, I]. Nothing is saved beyond gate_up itself.
// Backward (d_gate_up overwritten), with s = sigmoid(gate):
//   d_gate = d_out * up * s * (1 + gate * (1 - s))          d_up = d_out * gate * s
// One thread per element of out, f32 math in the CPU's order, rounded once to C.
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_types.cuh"

namespace minimind {
namespace {

using cuda::blocks_for;
using cuda::device_data;
using cuda::from_float;
using cuda::kThreads;
using cuda::to_float;

template <typename T>
__global__ void swiglu_forward_kernel(const T* __restrict__ gate_up, T* __restrict__ out, int64_t rows,
                                      int64_t width) {
  const int64_t total = rows * width;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / width;
    const T* row = gate_up + n * 2 * width + (i - n * width);
    const float gate = to_float(row[0]);
    const float up = to_float(row[width]);
    out[i] = from_float<T>(gate / (1.0f + expf(-gate)) * up);
  }
}

template <typename T>
__global__ void swiglu_backward_kernel(const T* __restrict__ d_out, const T* __restrict__ gate_up,
                                       T* __restrict__ d_gate_up, int64_t rows, int64_t width) {
  const int64_t total = rows * width;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / width;
    const int64_t offset = n * 2 * width + (i - n * width);
    const float gate = to_float(gate_up[offset]);
    const float up = to_float(gate_up[offset + width]);
    const float gradient = to_float(d_out[i]);
    const float sigmoid = 1.0f / (1.0f + expf(-gate));
    d_gate_up[offset + width] = from_float<T>(gradient * gate * sigmoid);
    d_gate_up[offset] = from_float<T>(gradient * up * sigmoid * (1.0f + gate * (1.0f - sigmoid)));
  }
}

}  // namespace

void CudaBackend::do_swiglu_forward(const Tensor& gate_up, Tensor& out) {
  const int64_t rows = gate_up.dim(0);
  const int64_t width = gate_up.dim(1) / 2;
  if (rows * width == 0) return;
  cuda::dispatch_compute(gate_up.dtype(), "swiglu_forward", [&](auto zero) {
    using T = decltype(zero);
    swiglu_forward_kernel<T><<<blocks_for(rows * width), kThreads, 0, stream()>>>(
        device_data<T>(gate_up), device_data<T>(out), rows, width);
    CUDA_CHECK_LAUNCH("swiglu_forward_kernel");
  });
}

void CudaBackend::do_swiglu_backward(const Tensor& d_out, const Tensor& gate_up, Tensor& d_gate_up) {
  const int64_t rows = gate_up.dim(0);
  const int64_t width = gate_up.dim(1) / 2;
  if (rows * width == 0) return;
  cuda::dispatch_compute(gate_up.dtype(), "swiglu_backward", [&](auto zero) {
    using T = decltype(zero);
    swiglu_backward_kernel<T><<<blocks_for(rows * width), kThreads, 0, stream()>>>(
        device_data<T>(d_out), device_data<T>(gate_up), device_data<T>(d_gate_up), rows, width);
    CUDA_CHECK_LAUNCH("swiglu_backward_kernel");
  });
}

}  // namespace minimind
