// Calls a scalar-templated CPU kernel for the dtype of a floating tensor (f32 or f64).
#pragma once

#include <stdexcept>
#include <string>

#include "tensor/tensor.h"

namespace minimind::cpu {

template <typename Fn>
decltype(auto) dispatch_floating(DType dtype, std::string_view op, Fn&& fn) {
  switch (dtype) {
    case DType::f32: return fn(float{});
    case DType::f64: return fn(double{});
    default:
      throw std::invalid_argument(std::string(op) + ": the CPU backend computes in f32 or f64, got " +
                                  std::string(dtype_name(dtype)));
  }
}

}  // namespace minimind::cpu
