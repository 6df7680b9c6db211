// rmsnorm (references: the closed form y = w x / sqrt(mean(x^2) + eps) computed here in double, to 1e-12;
// finite differences in double of a weighted sum of y w.r.t. x and weight, rtol 1e-6; f32 within 1e-5 of
// f64; d_weight's parallel row reduction gives the same bits at any thread count).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "support/gradient_check.h"
#include "support/tensor_helpers.h"

namespace minimind {
namespace {

using testing::clone;
using testing::expect_gradient_near;
using testing::expect_rejects;
using testing::numeric_gradient;
using testing::random_tensor;
using testing::to_f32;
using testing::weighted_sum;

// Subtracts the values of `before` from `t` (both f64), leaving what an accumulating op added.
void subtract(Tensor& t, const Tensor& before) {
  for (int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] -= before.data<double>()[i];
}

TEST(CpuRmsnorm, ForwardMatchesClosedForm) {
  std::mt19937_64 rng(1);
  CpuBackend backend;
  const int64_t rows = 5, hidden = 11;
  const double eps = 1e-5;
  const Tensor x = random_tensor({rows, hidden}, DType::f64, rng, 2.0);
  const Tensor weight = random_tensor({hidden}, DType::f64, rng);
  Tensor y = Tensor::empty({rows, hidden}, DType::f64);
  Tensor rstd = Tensor::empty({rows}, DType::f64);
  backend.rmsnorm_forward(x, weight, eps, y, rstd);
  for (int64_t n = 0; n < rows; ++n) {
    double mean_square = 0;
    for (int64_t h = 0; h < hidden; ++h)
      mean_square += std::pow(x.data<double>()[n * hidden + h], 2) / hidden;
    const double expected_rstd = 1.0 / std::sqrt(mean_square + eps);
    EXPECT_NEAR(rstd.data<double>()[n], expected_rstd, 1e-12 * expected_rstd);
    for (int64_t h = 0; h < hidden; ++h) {
      const double expected = weight.data<double>()[h] * x.data<double>()[n * hidden + h] * expected_rstd;
      EXPECT_NEAR(y.data<double>()[n * hidden + h], expected, 1e-12 * std::max(1.0, std::abs(expected)));
    }
  }
}

TEST(CpuRmsnorm, EpsKeepsAZeroRowFinite) {
  CpuBackend backend;
  const Tensor x = Tensor::zeros({2, 8}, DType::f32);
  Tensor weight = Tensor::empty({8}, DType::f32);
  for (float& w : weight.span<float>()) w = 1.0f;
  Tensor y = Tensor::empty({2, 8}, DType::f32);
  Tensor rstd = Tensor::empty({2}, DType::f32);
  backend.rmsnorm_forward(x, weight, 1e-6, y, rstd);
  EXPECT_NEAR(rstd.data<float>()[0], 1000.0f, 1e-2f);
  for (float v : y.span<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(CpuRmsnorm, ForwardAgreesBetweenF32AndF64) {
  std::mt19937_64 rng(2);
  CpuBackend backend;
  // Large enough to take the parallel path.
  const int64_t rows = 96, hidden = 520;
  const Tensor x = random_tensor({rows, hidden}, DType::f64, rng, 3.0);
  const Tensor weight = random_tensor({hidden}, DType::f64, rng);
  Tensor y = Tensor::empty({rows, hidden}, DType::f64), rstd = Tensor::empty({rows}, DType::f64);
  Tensor y_f32 = Tensor::empty({rows, hidden}, DType::f32), rstd_f32 = Tensor::empty({rows}, DType::f32);
  backend.rmsnorm_forward(x, weight, 1e-5, y, rstd);
  backend.rmsnorm_forward(to_f32(x), to_f32(weight), 1e-5, y_f32, rstd_f32);
  for (int64_t n = 0; n < rows; ++n)
    ASSERT_NEAR(rstd_f32.data<float>()[n], rstd.data<double>()[n], 1e-5 * rstd.data<double>()[n]);
  // Relative to the row's scale: y is w * (x rstd), and x rstd is of order one.
  for (int64_t i = 0; i < y.numel(); ++i) ASSERT_NEAR(y_f32.data<float>()[i], y.data<double>()[i], 1e-5);
}

TEST(CpuRmsnorm, BackwardMatchesFiniteDifferencesAndAccumulates) {
  std::mt19937_64 rng(3);
  CpuBackend backend;
  const int64_t rows = 4, hidden = 7;
  const double eps = 1e-3;  // large enough to matter in the gradient
  Tensor x = random_tensor({rows, hidden}, DType::f64, rng);
  Tensor weight = random_tensor({hidden}, DType::f64, rng);
  const Tensor loss_weights = random_tensor({rows, hidden}, DType::f64, rng);
  Tensor y = Tensor::empty({rows, hidden}, DType::f64), rstd = Tensor::empty({rows}, DType::f64);
  const auto loss = [&] {
    backend.rmsnorm_forward(x, weight, eps, y, rstd);
    return weighted_sum(y, loss_weights);
  };
  const std::vector<double> numeric_x = numeric_gradient(x, loss);
  const std::vector<double> numeric_weight = numeric_gradient(weight, loss);

  backend.rmsnorm_forward(x, weight, eps, y, rstd);
  Tensor d_x = random_tensor({rows, hidden}, DType::f64, rng);
  Tensor d_weight = random_tensor({hidden}, DType::f64, rng);
  const Tensor d_x_before = clone(d_x), d_weight_before = clone(d_weight);
  backend.rmsnorm_backward(loss_weights, x, weight, rstd, d_x, d_weight);
  subtract(d_x, d_x_before);
  subtract(d_weight, d_weight_before);
  expect_gradient_near(d_x, numeric_x, "d_x");
  expect_gradient_near(d_weight, numeric_weight, "d_weight");
}

// The blocked, parallel reduction of d_weight against a plain double sum over rows, with a row count that
// does not divide into the blocks evenly.
TEST(CpuRmsnorm, ParallelWeightGradientMatchesPlainSum) {
  std::mt19937_64 rng(4);
  CpuBackend backend;
  const int64_t rows = 1001, hidden = 67;
  const Tensor x = random_tensor({rows, hidden}, DType::f64, rng);
  const Tensor weight = random_tensor({hidden}, DType::f64, rng);
  const Tensor d_y = random_tensor({rows, hidden}, DType::f64, rng);
  Tensor y = Tensor::empty({rows, hidden}, DType::f64), rstd = Tensor::empty({rows}, DType::f64);
  backend.rmsnorm_forward(x, weight, 1e-5, y, rstd);
  Tensor d_x = Tensor::zeros({rows, hidden}, DType::f64);
  Tensor d_weight = Tensor::zeros({hidden}, DType::f64);
  backend.rmsnorm_backward(d_y, x, weight, rstd, d_x, d_weight);
  for (int64_t h = 0; h < hidden; ++h) {
    double expected = 0, magnitude = 0;
    for (int64_t n = 0; n < rows; ++n) {
      const double term =
          d_y.data<double>()[n * hidden + h] * x.data<double>()[n * hidden + h] * rstd.data<double>()[n];
      expected += term;
      magnitude += std::abs(term);
    }
    EXPECT_NEAR(d_weight.data<double>()[h], expected, 1e-13 * magnitude) << "h " << h;
  }
}

TEST(CpuRmsnorm, BackwardIsBitIdenticalAtAnyThreadCount) {
  std::mt19937_64 rng(5);
  const int64_t rows = 700, hidden = 96;
  const Tensor x = random_tensor({rows, hidden}, DType::f32, rng);
  const Tensor weight = random_tensor({hidden}, DType::f32, rng);
  const Tensor d_y = random_tensor({rows, hidden}, DType::f32, rng);
  Tensor y = Tensor::empty({rows, hidden}, DType::f32), rstd = Tensor::empty({rows}, DType::f32);
  CpuBackend backend;
  backend.rmsnorm_forward(x, weight, 1e-5, y, rstd);

  const int saved_threads = omp_get_max_threads();
  Tensor first_d_x, first_d_weight;
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    Tensor d_x = Tensor::zeros({rows, hidden}, DType::f32);
    Tensor d_weight = Tensor::zeros({hidden}, DType::f32);
    backend.rmsnorm_backward(d_y, x, weight, rstd, d_x, d_weight);
    if (!first_d_x.defined()) {
      first_d_x = d_x;
      first_d_weight = d_weight;
      continue;
    }
    EXPECT_EQ(std::memcmp(d_x.raw(), first_d_x.raw(), d_x.bytes()), 0) << threads << " threads";
    EXPECT_EQ(std::memcmp(d_weight.raw(), first_d_weight.raw(), d_weight.bytes()), 0)
        << threads << " threads";
  }
  omp_set_num_threads(saved_threads);
}

TEST(CpuRmsnorm, BackwardAgreesBetweenF32AndF64) {
  std::mt19937_64 rng(6);
  CpuBackend backend;
  const int64_t rows = 64, hidden = 520;
  const Tensor x = random_tensor({rows, hidden}, DType::f64, rng);
  const Tensor weight = random_tensor({hidden}, DType::f64, rng);
  const Tensor d_y = random_tensor({rows, hidden}, DType::f64, rng);
  Tensor y = Tensor::empty({rows, hidden}, DType::f64), rstd = Tensor::empty({rows}, DType::f64);
  Tensor y_f32 = Tensor::empty({rows, hidden}, DType::f32), rstd_f32 = Tensor::empty({rows}, DType::f32);
  backend.rmsnorm_forward(x, weight, 1e-5, y, rstd);
  backend.rmsnorm_forward(to_f32(x), to_f32(weight), 1e-5, y_f32, rstd_f32);
  Tensor d_x = Tensor::zeros({rows, hidden}, DType::f64), d_weight = Tensor::zeros({hidden}, DType::f64);
  Tensor d_x_f32 = Tensor::zeros({rows, hidden}, DType::f32),
         d_weight_f32 = Tensor::zeros({hidden}, DType::f32);
  backend.rmsnorm_backward(d_y, x, weight, rstd, d_x, d_weight);
  backend.rmsnorm_backward(to_f32(d_y), to_f32(x), to_f32(weight), rstd_f32, d_x_f32, d_weight_f32);
  for (int64_t i = 0; i < d_x.numel(); ++i)
    ASSERT_NEAR(d_x_f32.data<float>()[i], d_x.data<double>()[i], 1e-5);
  // d_weight sums 64 terms of order one.
  for (int64_t h = 0; h < hidden; ++h)
    ASSERT_NEAR(d_weight_f32.data<float>()[h], d_weight.data<double>()[h], 1e-5 * 64);
}

TEST(CpuRmsnorm, RejectsWrongShapesAndDtypes) {
  CpuBackend backend;
  const Tensor x = Tensor::zeros({3, 4}, DType::f32);
  const Tensor weight = Tensor::zeros({4}, DType::f32);
  Tensor y = Tensor::zeros({3, 4}, DType::f32);
  Tensor rstd = Tensor::zeros({3}, DType::f32);
  EXPECT_NO_THROW(backend.rmsnorm_forward(x, weight, 1e-5, y, rstd));
  const Tensor short_weight = Tensor::zeros({3}, DType::f32);
  expect_rejects([&] { backend.rmsnorm_forward(x, short_weight, 1e-5, y, rstd); }, "weight");
  const Tensor weight_f64 = Tensor::zeros({4}, DType::f64);
  expect_rejects([&] { backend.rmsnorm_forward(x, weight_f64, 1e-5, y, rstd); }, "weight");
  Tensor wrong_rstd = Tensor::zeros({3, 1}, DType::f32);
  expect_rejects([&] { backend.rmsnorm_forward(x, weight, 1e-5, y, wrong_rstd); }, "rstd");
  Tensor wrong_y = Tensor::zeros({4, 3}, DType::f32);
  expect_rejects([&] { backend.rmsnorm_forward(x, weight, 1e-5, wrong_y, rstd); }, "y");

  Tensor d_x = Tensor::zeros({3, 4}, DType::f32);
  Tensor d_weight = Tensor::zeros({4}, DType::f32);
  EXPECT_NO_THROW(backend.rmsnorm_backward(y, x, weight, rstd, d_x, d_weight));
  Tensor d_weight_f64 = Tensor::zeros({4}, DType::f64);
  expect_rejects([&] { backend.rmsnorm_backward(y, x, weight, rstd, d_x, d_weight_f64); }, "d_weight");
  const Tensor short_d_y = Tensor::zeros({2, 4}, DType::f32);
  expect_rejects([&] { backend.rmsnorm_backward(short_d_y, x, weight, rstd, d_x, d_weight); }, "d_y");
  Tensor wide_d_x = Tensor::zeros({3, 5}, DType::f32);
  expect_rejects([&] { backend.rmsnorm_backward(y, x, weight, rstd, wide_d_x, d_weight); }, "d_x");
  const Tensor x_i32 = Tensor::zeros({3, 4}, DType::i32);
  const Tensor weight_i32 = Tensor::zeros({4}, DType::i32);
  Tensor y_i32 = Tensor::zeros({3, 4}, DType::i32), rstd_i32 = Tensor::zeros({3}, DType::i32);
  EXPECT_THROW(backend.rmsnorm_forward(x_i32, weight_i32, 1e-5, y_i32, rstd_i32), std::invalid_argument);
}

}  // namespace
}  // namespace minimind
