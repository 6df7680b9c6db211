// copy: dst = src between the host and the GPU, converting between the floating dtypes (f32, f64, bf16,
// f16) with the rounding of tensor/convert.h: to nearest even, NaN kept a NaN, f64 narrowed to bf16 / f16
// in one rounding. Device-to-device conversions run in a kernel whose conversions are convert.h's, bit for
// bit; a conversion with a host side is done on the host by convert.h itself, next to the transfer.
// Uploads small enough for the staging buffer return without waiting for the GPU; reads back to the host
// wait (the caller reads the host tensor next).
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_types.cuh"
#include "tensor/convert.h"

namespace minimind {
namespace {

// ---- convert.h's scalar conversions, for the device --------------------------------------------------

__device__ __forceinline__ float bf16_bits_to_float(uint16_t bits) {
  return __uint_as_float(static_cast<uint32_t>(bits) << 16);
}

__device__ __forceinline__ uint16_t float_to_bf16_bits(float value) {
  const uint32_t bits = __float_as_uint(value);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  const uint32_t rounding_bias = 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding_bias) >> 16);
}

__device__ __forceinline__ float f16_bits_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1Fu;
  const uint32_t mantissa = bits & 0x3FFu;
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 0x1F) return __uint_as_float(sign | 0x7F800000u | (mantissa << 13));
  return __uint_as_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

__device__ __forceinline__ uint16_t float_to_f16_bits(float value) {
  const uint32_t bits = __float_as_uint(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude >= 0x7F800000u) {
    if (magnitude == 0x7F800000u) return sign | 0x7C00u;
    return static_cast<uint16_t>(sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu));
  }
  if (magnitude >= 0x477FF000u) return sign | 0x7C00u;
  if (magnitude < 0x38800000u) {
    const uint32_t float_exponent = magnitude >> 23;
    const uint32_t shift = 126u - float_exponent;
    if (shift > 24) return sign;
    const uint32_t significand = (magnitude & 0x7FFFFFu) | 0x800000u;
    uint32_t steps = significand >> shift;
    const uint32_t remainder = significand & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1u);
    if (remainder > half || (remainder == half && (steps & 1u))) ++steps;
    return static_cast<uint16_t>(sign | steps);
  }
  const uint32_t rebiased = magnitude - 0x38000000u;
  return static_cast<uint16_t>(sign | ((rebiased + 0xFFFu + ((rebiased >> 13) & 1u)) >> 13));
}

// Truncate toward zero and set the lowest bit when anything was dropped: rounding this float to a format
// at least two bits narrower equals rounding the double directly (convert.h says why).
__device__ __forceinline__ float double_to_float_round_to_odd(double value) {
  if (isnan(value)) return __double2float_rn(value);
  float nearest = __double2float_rn(value);
  if (static_cast<double>(nearest) == value) return nearest;
  if (fabs(static_cast<double>(nearest)) > fabs(value)) nearest = nextafterf(nearest, 0.0f);
  return __uint_as_float(__float_as_uint(nearest) | 1u);
}

// ---- elements by dtype: f64 widens to double, every other floating dtype exactly to float ------------

template <DType D>
struct Element;
template <>
struct Element<DType::f32> {
  using Stored = float;
  __device__ static float widen(float x) { return x; }
  __device__ static float narrow(float x) { return x; }
  __device__ static float narrow(double x) { return __double2float_rn(x); }
};
template <>
struct Element<DType::f64> {
  using Stored = double;
  __device__ static double widen(double x) { return x; }
  __device__ static double narrow(float x) { return x; }
  __device__ static double narrow(double x) { return x; }
};
template <>
struct Element<DType::bf16> {
  using Stored = uint16_t;
  __device__ static float widen(uint16_t x) { return bf16_bits_to_float(x); }
  __device__ static uint16_t narrow(float x) { return float_to_bf16_bits(x); }
  __device__ static uint16_t narrow(double x) { return float_to_bf16_bits(double_to_float_round_to_odd(x)); }
};
template <>
struct Element<DType::f16> {
  using Stored = uint16_t;
  __device__ static float widen(uint16_t x) { return f16_bits_to_float(x); }
  __device__ static uint16_t narrow(float x) { return float_to_f16_bits(x); }
  __device__ static uint16_t narrow(double x) { return float_to_f16_bits(double_to_float_round_to_odd(x)); }
};

template <DType In, DType Out>
__global__ void convert_kernel(const typename Element<In>::Stored* __restrict__ in,
                               typename Element<Out>::Stored* __restrict__ out, int64_t count) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    out[i] = Element<Out>::narrow(Element<In>::widen(in[i]));
}

template <DType In, DType Out>
void launch_convert(const Tensor& src, Tensor& dst, cudaStream_t stream) {
  const int64_t count = src.numel();
  convert_kernel<In, Out><<<cuda::blocks_for(count), cuda::kThreads, 0, stream>>>(
      static_cast<const typename Element<In>::Stored*>(src.raw()),
      static_cast<typename Element<Out>::Stored*>(dst.raw()), count);
  CUDA_CHECK_LAUNCH("convert_kernel");
}

template <DType In>
void launch_convert_from(const Tensor& src, Tensor& dst, cudaStream_t stream) {
  switch (dst.dtype()) {
    case DType::f32:
      return launch_convert<In, DType::f32>(src, dst, stream);
    case DType::f64:
      return launch_convert<In, DType::f64>(src, dst, stream);
    case DType::bf16:
      return launch_convert<In, DType::bf16>(src, dst, stream);
    case DType::f16:
      return launch_convert<In, DType::f16>(src, dst, stream);
    default:
      break;
  }
  throw std::invalid_argument("copy: cannot convert " + src.describe() + " into " + dst.describe());
}

void convert_on_device(const Tensor& src, Tensor& dst, cudaStream_t stream) {
  switch (src.dtype()) {
    case DType::f32:
      return launch_convert_from<DType::f32>(src, dst, stream);
    case DType::f64:
      return launch_convert_from<DType::f64>(src, dst, stream);
    case DType::bf16:
      return launch_convert_from<DType::bf16>(src, dst, stream);
    case DType::f16:
      return launch_convert_from<DType::f16>(src, dst, stream);
    default:
      break;
  }
  throw std::invalid_argument("copy: cannot convert " + src.describe() + " into " + dst.describe());
}

}  // namespace

void CudaBackend::do_copy(const Tensor& src, Tensor& dst) {
  if (!src.numel()) return;
  const bool from_device = src.device() == Device::cuda, to_device = dst.device() == Device::cuda;
  if (src.dtype() != dst.dtype()) {
    if (from_device && to_device) return convert_on_device(src, dst, stream_);
    // A host side: convert there with convert.h, then move the bytes as they are.
    if (to_device) return do_copy(convert_dtype(src, dst.dtype()), dst);
    Tensor host = from_device ? to_host(src) : src;
    const Tensor converted = convert_dtype(host, dst.dtype());
    std::memcpy(dst.raw(), converted.raw(), dst.bytes());
    return;
  }
  if (src.raw() == dst.raw()) return;
  const size_t bytes = src.bytes();
  if (from_device && to_device) {
    CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), bytes, cudaMemcpyDeviceToDevice, stream_));
  } else if (to_device) {
    if (!upload_staged(src.raw(), dst.raw(), bytes)) {
      // Too large to stage: the caller may reuse its pageable buffer once this returns, so wait.
      CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), bytes, cudaMemcpyHostToDevice, stream_));
      CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
  } else if (from_device) {
    download(src.raw(), dst.raw(), bytes);
  } else {
    std::memmove(dst.raw(), src.raw(), bytes);
  }
}

}  // namespace minimind
