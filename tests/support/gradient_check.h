// Finite differences in double precision: the independent reference for every backward.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace minimind::testing {

// A tensor of the given shape filled uniformly in [-scale, scale].
inline Tensor random_tensor(const Shape& shape, DType dtype, std::mt19937_64& rng, double scale = 1.0) {
  Tensor t = Tensor::empty(shape, dtype);
  std::uniform_real_distribution<double> uniform(-scale, scale);
  if (dtype == DType::f64) {
    for (double& x : t.span<double>()) x = uniform(rng);
  } else {
    for (float& x : t.span<float>()) x = static_cast<float>(uniform(rng));
  }
  return t;
}

inline Tensor random_ids(const Shape& shape, int32_t upper, std::mt19937_64& rng) {
  Tensor t = Tensor::empty(shape, DType::i32);
  std::uniform_int_distribution<int32_t> uniform(0, upper - 1);
  for (int32_t& x : t.span<int32_t>()) x = uniform(rng);
  return t;
}

// Central differences of `loss` with respect to every element of the f64 tensor `x` (perturbed in place
// and restored).
inline std::vector<double> numeric_gradient(Tensor& x, const std::function<double()>& loss, double step = 1e-6) {
  std::vector<double> gradient(static_cast<size_t>(x.numel()));
  double* values = x.data<double>();
  for (size_t i = 0; i < gradient.size(); ++i) {
    const double saved = values[i];
    values[i] = saved + step;
    const double plus = loss();
    values[i] = saved - step;
    const double minus = loss();
    values[i] = saved;
    gradient[i] = (plus - minus) / (2 * step);
  }
  return gradient;
}

// |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|), element by element.
inline void expect_gradient_near(const Tensor& analytic, const std::vector<double>& numeric, const std::string& what,
                                 double rtol = 1e-6, double atol = 1e-8) {
  ASSERT_EQ(analytic.numel(), static_cast<int64_t>(numeric.size())) << what;
  const double* a = analytic.data<double>();
  int failures = 0;
  for (size_t i = 0; i < numeric.size(); ++i) {
    const double tolerance = atol + rtol * std::max(std::abs(a[i]), std::abs(numeric[i]));
    if (std::abs(a[i] - numeric[i]) > tolerance && ++failures <= 5)
      ADD_FAILURE() << what << "[" << i << "]: analytic " << a[i] << " vs finite difference " << numeric[i];
  }
  EXPECT_EQ(failures, 0) << what << ": " << failures << " of " << numeric.size() << " elements differ";
}

// Sum of w * y over all elements: a scalar loss with random weights that makes every output matter.
inline double weighted_sum(const Tensor& y, const Tensor& weights) {
  const double* a = y.data<double>();
  const double* w = weights.data<double>();
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += a[i] * w[i];
  return s;
}

}  // namespace minimind::testing
