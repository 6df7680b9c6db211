// Shared pieces of the CUDA kernels: the element types by dtype, loads that widen to f32 and stores that
// round back, launch sizes, and dispatch from a DType to a kernel template.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "tensor/tensor.h"

namespace minimind::cuda {

using bf16 = __nv_bfloat16;

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(bf16 x) { return __bfloat162float(x); }
__device__ __forceinline__ double to_double(double x) { return x; }
__device__ __forceinline__ double to_double(float x) { return x; }
__device__ __forceinline__ double to_double(bf16 x) { return __bfloat162float(x); }

template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) { return x; }
template <>
__device__ __forceinline__ bf16 from_float<bf16>(float x) { return __float2bfloat16_rn(x); }

constexpr int kThreads = 256;

inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 * 16 ? 65535 * 16 : blocks));
}

// Calls fn(float{}) or fn(bf16{}) for a compute dtype; the CUDA backend computes in f32 or bf16.
template <typename Fn>
decltype(auto) dispatch_compute(DType dtype, const char* op, Fn&& fn) {
  switch (dtype) {
    case DType::f32: return fn(float{});
    case DType::bf16: return fn(bf16{});
    default:
      throw std::invalid_argument(std::string(op) + ": the CUDA backend computes in f32 or bf16, got " +
                                  std::string(dtype_name(dtype)));
  }
}

template <typename T>
T* device_data(const Tensor& t) {
  return static_cast<T*>(t.raw());
}

}  // namespace minimind::cuda
