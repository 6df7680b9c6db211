// How many OpenMP threads a backend's op really ran on, seen from outside through the op's result: a
// sum_squares whose value depends on how the rows were split between threads. No hook in the backend.
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "backend/backend.h"

namespace minimind {

// x = [2^30, 1, 1, ..., 1] (n elements, over the op's threshold for going parallel). With t threads,
// schedule(static) gives each thread one contiguous chunk of n / t elements. The first chunk's double sum
// stays 2^60 (each + 1 is below half of 2^60's spacing, 256, and rounds away); every other chunk sums to
// n / t exactly, and those partial sums are multiples of 256, so 2^60 plus them is exact in any order:
// sum = 2^60 + (t - 1) n / t, hence t = n / (n - (sum - 2^60)). n = 3 * 2^14 splits evenly for t = 1..4.
inline int omp_threads_observed(Backend& backend) {
  constexpr int64_t n = 3 * (int64_t{1} << 14);
  Tensor x = backend.empty({n}, DType::f32);
  float* values = x.data<float>();
  values[0] = std::ldexp(1.0f, 30);
  for (int64_t i = 1; i < n; ++i) values[i] = 1.0f;
  Tensor sum = backend.empty({1}, DType::f64);
  backend.sum_squares(x, sum);
  const double beyond_first_chunk = backend.to_host(sum).data<double>()[0] - std::ldexp(1.0, 60);
  const double first_chunk = static_cast<double>(n) - beyond_first_chunk;
  const double threads = static_cast<double>(n) / first_chunk;
  if (!(first_chunk > 0) || threads != std::round(threads))
    throw std::runtime_error("sum_squares split " + std::to_string(n) +
                             " elements unevenly: the sum beyond the first chunk is " +
                             std::to_string(beyond_first_chunk));
  return static_cast<int>(threads);
}

}  // namespace minimind
