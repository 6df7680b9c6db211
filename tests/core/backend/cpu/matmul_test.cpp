// matmul (reference: a naive triple loop in double over the same inputs, for all four transpose
// combinations; f64 agrees to 1e-12, f32 to 1e-5 of sum_k |a_ik b_kj|).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "support/gradient_check.h"
#include "support/tensor_helpers.h"

namespace minimind {
namespace {

using testing::element;
using testing::expect_rejects;
using testing::random_tensor;

// op(x)[r, c] of a row-major [rows, cols] tensor.
double op_element(const Tensor& x, bool transpose, int64_t r, int64_t c) {
  return transpose ? element(x, c * x.dim(1) + r) : element(x, r * x.dim(1) + c);
}

struct NaiveProduct {
  std::vector<double> values;     // op(a) @ op(b)
  std::vector<double> magnitude;  // sum_k |op(a)[i, k] op(b)[k, j]|, the scale of rounding errors
};

NaiveProduct naive_product(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b) {
  const int64_t rows = transpose_a ? a.dim(1) : a.dim(0);
  const int64_t inner = transpose_a ? a.dim(0) : a.dim(1);
  const int64_t columns = transpose_b ? b.dim(0) : b.dim(1);
  NaiveProduct product{std::vector<double>(rows * columns, 0.0), std::vector<double>(rows * columns, 0.0)};
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < columns; ++j)
      for (int64_t k = 0; k < inner; ++k) {
        const double term = op_element(a, transpose_a, i, k) * op_element(b, transpose_b, k, j);
        product.values[i * columns + j] += term;
        product.magnitude[i * columns + j] += std::abs(term);
      }
  return product;
}

// Shapes of a and b such that op(a) is [rows, inner] and op(b) is [inner, columns].
Shape operand_shape(int64_t outer, int64_t inner, bool transpose, bool is_left) {
  if (is_left) return transpose ? Shape{inner, outer} : Shape{outer, inner};
  return transpose ? Shape{outer, inner} : Shape{inner, outer};
}

void check_product(DType dtype, int64_t rows, int64_t inner, int64_t columns, double tolerance) {
  std::mt19937_64 rng(rows * 1000 + inner * 10 + columns);
  CpuBackend backend;
  for (bool transpose_a : {false, true}) {
    for (bool transpose_b : {false, true}) {
      for (bool accumulate : {false, true}) {
        const std::string what = "transpose_a " + std::to_string(transpose_a) + ", transpose_b " +
                                 std::to_string(transpose_b) + ", accumulate " + std::to_string(accumulate);
        const Tensor a = random_tensor(operand_shape(rows, inner, transpose_a, true), dtype, rng);
        const Tensor b = random_tensor(operand_shape(columns, inner, transpose_b, false), dtype, rng);
        Tensor out = random_tensor({rows, columns}, dtype, rng);
        const std::vector<double> before = [&] {
          std::vector<double> values(rows * columns);
          for (int64_t i = 0; i < rows * columns; ++i) values[i] = element(out, i);
          return values;
        }();
        const NaiveProduct expected = naive_product(a, transpose_a, b, transpose_b);
        backend.matmul(a, transpose_a, b, transpose_b, out, accumulate);
        int failures = 0;
        for (int64_t i = 0; i < rows * columns; ++i) {
          const double want = expected.values[i] + (accumulate ? before[i] : 0.0);
          const double scale = expected.magnitude[i] + (accumulate ? std::abs(before[i]) : 0.0);
          if (std::abs(element(out, i) - want) > tolerance * std::max(scale, 1e-30) && ++failures <= 5)
            ADD_FAILURE() << what << ": out[" << i << "] = " << element(out, i) << ", expected " << want;
        }
        EXPECT_EQ(failures, 0) << what;
      }
    }
  }
}

TEST(CpuMatmul, F64MatchesNaiveLoopForAllTransposes) {
  check_product(DType::f64, 7, 13, 5, 1e-12);
}

TEST(CpuMatmul, F32MatchesNaiveLoopForAllTransposes) {
  check_product(DType::f32, 7, 13, 5, 1e-5);
}

// Large enough for Eigen's blocked (and multithreaded) kernel, with sizes that are not multiples of its
// register blocks.
TEST(CpuMatmul, BlockedProductsMatchNaiveLoop) {
  check_product(DType::f64, 67, 129, 45, 1e-12);
  check_product(DType::f32, 67, 129, 45, 1e-5);
}

// A few rows against a large weight (decoding one token), where the output columns are split between threads,
// with a column count that does not divide evenly.
TEST(CpuMatmul, FewRowsTimesALargeWeightMatchNaiveLoop) {
  for (int64_t rows : {1, 3}) {
    check_product(DType::f64, rows, 96, 517, 1e-12);
    check_product(DType::f32, rows, 96, 517, 1e-5);
  }
}

TEST(CpuMatmul, VectorShapesMatchNaiveLoop) {
  check_product(DType::f64, 1, 17, 9, 1e-12);
  check_product(DType::f64, 9, 17, 1, 1e-12);
  check_product(DType::f32, 1, 1, 1, 1e-5);
}

TEST(CpuMatmul, EmptyInnerDimensionGivesZeros) {
  CpuBackend backend;
  const Tensor a = Tensor::zeros({3, 0}, DType::f64);
  const Tensor b = Tensor::zeros({0, 2}, DType::f64);
  Tensor out = Tensor::empty({3, 2}, DType::f64);
  for (double& x : out.span<double>()) x = std::numeric_limits<double>::quiet_NaN();
  backend.matmul(a, false, b, false, out, false);
  for (double x : out.span<double>()) EXPECT_EQ(x, 0.0);
}

TEST(CpuMatmul, RejectsMismatchedShapesAndDtypesNamingTheArgument) {
  CpuBackend backend;
  const Tensor a = Tensor::zeros({4, 3}, DType::f32);
  const Tensor b = Tensor::zeros({3, 5}, DType::f32);
  Tensor out = Tensor::zeros({4, 5}, DType::f32);
  EXPECT_NO_THROW(backend.matmul(a, false, b, false, out, false));

  expect_rejects([&] { backend.matmul(a, true, b, false, out, false); }, "b");
  expect_rejects([&] { backend.matmul(a, false, b, true, out, false); }, "b");
  Tensor wrong_out = Tensor::zeros({5, 4}, DType::f32);
  expect_rejects([&] { backend.matmul(a, false, b, false, wrong_out, false); }, "out");
  const Tensor b_f64 = Tensor::zeros({3, 5}, DType::f64);
  expect_rejects([&] { backend.matmul(a, false, b_f64, false, out, false); }, "b");
  Tensor out_f64 = Tensor::zeros({4, 5}, DType::f64);
  expect_rejects([&] { backend.matmul(a, false, b, false, out_f64, false); }, "out");
  const Tensor a_rank3 = Tensor::zeros({4, 3, 1}, DType::f32);
  expect_rejects([&] { backend.matmul(a_rank3, false, b, false, out, false); }, "a");
  const Tensor a_i32 = Tensor::zeros({4, 3}, DType::i32);
  const Tensor b_i32 = Tensor::zeros({3, 5}, DType::i32);
  Tensor out_i32 = Tensor::zeros({4, 5}, DType::i32);
  EXPECT_THROW(backend.matmul(a_i32, false, b_i32, false, out_i32, false), std::invalid_argument);
}

TEST(CpuMatmul, RejectsAnOutputThatOverlapsAnOperand) {
  CpuBackend backend;
  Tensor square = Tensor::zeros({4, 4}, DType::f64);
  const Tensor b = Tensor::zeros({4, 4}, DType::f64);
  expect_rejects([&] { backend.matmul(square, false, b, false, square, false); }, "out");
}

}  // namespace
}  // namespace minimind
