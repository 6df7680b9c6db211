// convert_dtype: element-wise dtype conversion of host tensors through the scalar conversions of convert.h.
#include "tensor/convert.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace minimind {
namespace {

bool is_floating(DType dtype) {
  return dtype == DType::f32 || dtype == DType::f64 || dtype == DType::bf16 || dtype == DType::f16;
}

// Below this many elements a conversion is cheaper than waking the thread team.
constexpr int64_t kParallelElements = int64_t{1} << 16;

// Applies `convert` from the elements of `source` (as In) to those of `target` (as Out). bf16 and f16
// travel as their uint16_t bit patterns.
template <typename In, typename Out, typename Convert>
void convert_elements(const Tensor& source, Tensor& target, Convert convert) {
  const In* in = static_cast<const In*>(source.raw());
  Out* out = static_cast<Out*>(target.raw());
  const int64_t count = source.numel();
#pragma omp parallel for schedule(static) if (count > kParallelElements)
  for (int64_t i = 0; i < count; ++i) out[i] = convert(in[i]);
}

// Every floating dtype converts to f32 exactly except f64; f64 keeps its own path so that narrowing to
// bf16 / f16 rounds once.
template <typename Out, typename FromFloat, typename FromDouble>
void convert_floating_to(const Tensor& source, Tensor& target, FromFloat from_float, FromDouble from_double) {
  switch (source.dtype()) {
    case DType::f32:
      convert_elements<float, Out>(source, target, from_float);
      break;
    case DType::f64:
      convert_elements<double, Out>(source, target, from_double);
      break;
    case DType::bf16:
      convert_elements<uint16_t, Out>(source, target,
                                      [&](uint16_t b) { return from_float(bf16_to_float(b)); });
      break;
    case DType::f16:
      convert_elements<uint16_t, Out>(source, target,
                                      [&](uint16_t h) { return from_float(f16_to_float(h)); });
      break;
    default:
      throw std::logic_error("convert_dtype: non-floating source reached the floating path");
  }
}

}  // namespace

void convert_into(const Tensor& source, Tensor& target) {
  expect_defined(source, "convert_into", "source");
  expect_defined(target, "convert_into", "target");
  if (source.device() != Device::cpu || target.device() != Device::cpu)
    throw std::invalid_argument("convert_into: host tensors only, got " + source.describe() + " into " +
                                target.describe());
  if (source.numel() != target.numel())
    throw std::invalid_argument("convert_into: " + source.describe() + " into " + target.describe() +
                                " (element counts differ)");
  const DType to = target.dtype();
  if (to != source.dtype() && !(is_floating(to) && is_floating(source.dtype())))
    throw std::invalid_argument("convert_into: cannot convert " + source.describe() + " to " +
                                std::string(dtype_name(to)) +
                                " (supported: between f32, f64, bf16 and f16, or to the same dtype)");
  if (to == source.dtype()) {
    if (source.bytes() && source.raw() != target.raw())
      std::memmove(target.raw(), source.raw(), source.bytes());
    return;
  }
  switch (to) {
    case DType::f32:
      convert_floating_to<float>(
          source, target, [](float x) { return x; }, [](double x) { return static_cast<float>(x); });
      break;
    case DType::f64:
      convert_floating_to<double>(
          source, target, [](float x) { return static_cast<double>(x); }, [](double x) { return x; });
      break;
    case DType::bf16:
      convert_floating_to<uint16_t>(source, target, float_to_bf16, double_to_bf16);
      break;
    case DType::f16:
      convert_floating_to<uint16_t>(source, target, float_to_f16, double_to_f16);
      break;
    default:
      throw std::logic_error("convert_into: non-floating target reached the floating path");
  }
}

Tensor convert_dtype(const Tensor& t, DType to) {
  expect_defined(t, "convert_dtype", "t");
  if (t.device() != Device::cpu)
    throw std::invalid_argument("convert_dtype: argument 't' should be a host tensor, got " + t.describe());
  if (to != t.dtype() && !(is_floating(to) && is_floating(t.dtype())))
    throw std::invalid_argument("convert_dtype: cannot convert " + t.describe() + " to " +
                                std::string(dtype_name(to)) +
                                " (supported: between f32, f64, bf16 and f16, or to the same dtype)");
  Tensor result = Tensor::empty(t.shape(), to);
  convert_into(t, result);
  return result;
}

}  // namespace minimind
