// Small tensor helpers shared by the backend op tests: building, copying and converting tensors, comparing
// f32 with f64 results, and checking that an op rejects a bad argument by name.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace minimind::testing {

// A tensor of the given shape and dtype holding `values` in row-major order, one for each element.
template <typename T>
Tensor tensor_of_values(const Shape& shape, DType dtype, const std::vector<T>& values) {
  Tensor t = Tensor::empty(shape, dtype);
  if (static_cast<int64_t>(values.size()) != t.numel())
    throw std::logic_error(std::to_string(values.size()) + " values for a shape of " +
                           std::to_string(t.numel()) + " elements");
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}

// An f64 tensor of the given shape holding `values` in row-major order.
inline Tensor f64_tensor(const Shape& shape, const std::vector<double>& values) {
  return tensor_of_values(shape, DType::f64, values);
}

// An i32 tensor of the given shape holding `values` in row-major order.
inline Tensor i32_tensor(const Shape& shape, const std::vector<int32_t>& values) {
  return tensor_of_values(shape, DType::i32, values);
}

// An f64 tensor of the given shape with every element set to `value`.
inline Tensor filled(const Shape& shape, double value) {
  Tensor t = Tensor::empty(shape, DType::f64);
  for (double& x : t.span<double>()) x = value;
  return t;
}

// A copy of the contiguous tensor `t` with its own storage (same shape and dtype).
inline Tensor clone(const Tensor& t) {
  Tensor copy = Tensor::empty(t.shape(), t.dtype());
  std::memcpy(copy.raw(), t.raw(), t.bytes());
  return copy;
}

// An f32 copy of the f64 tensor `t`, each element rounded to float.
inline Tensor to_f32(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), DType::f32);
  for (int64_t i = 0; i < t.numel(); ++i) out.data<float>()[i] = static_cast<float>(t.data<double>()[i]);
  return out;
}

// Element i (flat index) of an f32 or f64 tensor, as a double.
inline double element(const Tensor& t, int64_t i) {
  return t.dtype() == DType::f64 ? t.data<double>()[i] : static_cast<double>(t.data<float>()[i]);
}

// Largest |f32 - f64| over the largest |f64|: how far an f32 result strays from its f64 counterpart.
inline double relative_error(const Tensor& f32, const Tensor& f64) {
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < f64.numel(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(f32.data<float>()[i]) - f64.data<double>()[i]));
    scale = std::max(scale, std::abs(f64.data<double>()[i]));
  }
  return diff / scale;
}

// The message of the std::invalid_argument that `call` throws ("" if it throws none).
template <typename Call>
std::string invalid_argument_message(Call&& call) {
  try {
    call();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

// Expects `call` to throw std::invalid_argument with a message that names `argument` (in single quotes).
template <typename Call>
void expect_rejects(Call&& call, const std::string& argument) {
  try {
    call();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'" + argument + "'"), std::string::npos) << e.what();
    return;
  }
  ADD_FAILURE() << "no std::invalid_argument naming '" << argument << "'";
}

}  // namespace minimind::testing
