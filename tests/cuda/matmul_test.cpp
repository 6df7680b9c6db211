// The CUDA matmul (cuBLASLt) against the product computed on the host in f64 from the same (rounded)
// inputs, norm-relative: 1e-5 with an f32 result (f32 inputs, or bf16 inputs accumulated into f32), 1e-2
// with a bf16 result (one rounding of 2^-9). Beyond the conformance suite's cases: every transpose with
// and without accumulation in each dtype pair, repeated with new data (the cached plans), an output full
// of NaN that an overwriting product must not read, operands at unaligned offsets, and empty dimensions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "cuda/gpu_test.h"
#include "tensor/convert.h"

namespace minimind {
namespace {

using testing::GpuTest;

struct Product {
  int64_t rows, inner, cols;
  bool transpose_a, transpose_b, accumulate;
  DType operand_dtype, out_dtype;

  Shape a_shape() const { return transpose_a ? Shape{inner, rows} : Shape{rows, inner}; }
  Shape b_shape() const { return transpose_b ? Shape{cols, inner} : Shape{inner, cols}; }
  std::string describe() const {
    return std::to_string(rows) + "x" + std::to_string(inner) + "x" + std::to_string(cols) +
           (transpose_a ? " a^T" : "") + (transpose_b ? " b^T" : "") + (accumulate ? " +=" : "") + " " +
           std::string(dtype_name(operand_dtype)) + "->" + std::string(dtype_name(out_dtype));
  }
  double tolerance() const { return out_dtype == DType::bf16 ? 1e-2 : 1e-5; }
};

// Uniform values in [-1, 1] of `shape`, rounded once to `dtype`, on the host.
Tensor random_values(const Shape& shape, DType dtype, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> uniform(-1, 1);
  Tensor values = Tensor::empty(shape, DType::f64);
  for (double& x : values.span<double>()) x = uniform(rng);
  return convert_dtype(values, dtype);
}

// out (+)= op(a) op(b) in f64 from host tensors of any floating dtype.
Tensor reference_product(const Product& p, const Tensor& a, const Tensor& b, const Tensor& out) {
  const Tensor a64 = convert_dtype(a, DType::f64), b64 = convert_dtype(b, DType::f64);
  Tensor result = convert_dtype(out, DType::f64);
  const double* x = a64.data<double>();
  const double* y = b64.data<double>();
  for (int64_t i = 0; i < p.rows; ++i)
    for (int64_t j = 0; j < p.cols; ++j) {
      double sum = 0;
      for (int64_t k = 0; k < p.inner; ++k)
        sum += (p.transpose_a ? x[k * p.rows + i] : x[i * p.inner + k]) *
               (p.transpose_b ? y[j * p.inner + k] : y[k * p.cols + j]);
      double& target = result.data<double>()[i * p.cols + j];
      target = p.accumulate ? target + sum : sum;
    }
  return result;
}

// max |result - reference| / max |reference|; infinite when the result has a NaN or infinity.
double relative_error(const Tensor& result, const Tensor& reference) {
  const Tensor values = convert_dtype(result, DType::f64);
  double max_difference = 0, max_reference = std::numeric_limits<double>::min();
  for (int64_t i = 0; i < reference.numel(); ++i) {
    const double r = values.data<double>()[i], e = reference.data<double>()[i];
    if (!std::isfinite(r)) return std::numeric_limits<double>::infinity();
    max_difference = std::max(max_difference, std::abs(r - e));
    max_reference = std::max(max_reference, std::abs(e));
  }
  return max_difference / max_reference;
}

using CudaMatmul = GpuTest;

TEST_F(CudaMatmul, MatchesTheF64ProductForEveryTransposeAndDtypePair) {
  std::mt19937_64 rng(7);
  const int64_t shapes[][3] = {{7, 13, 5}, {64, 33, 24}, {1, 128, 37}, {129, 257, 65}};
  const std::pair<DType, DType> dtypes[] = {
      {DType::f32, DType::f32}, {DType::bf16, DType::f32}, {DType::bf16, DType::bf16}};
  // Twice over: the second round reuses the plans of the first with new data.
  for (int round = 0; round < 2; ++round)
    for (const auto& shape : shapes)
      for (const auto& [operand_dtype, out_dtype] : dtypes)
        for (int flags = 0; flags < 8; ++flags) {
          const Product p{shape[0],         shape[1],         shape[2],      (flags & 1) != 0,
                          (flags & 2) != 0, (flags & 4) != 0, operand_dtype, out_dtype};
          const Tensor a = random_values(p.a_shape(), operand_dtype, rng);
          const Tensor b = random_values(p.b_shape(), operand_dtype, rng);
          const Tensor out = random_values({p.rows, p.cols}, out_dtype, rng);
          Tensor device_out = upload(out);
          gpu().matmul(upload(a), p.transpose_a, upload(b), p.transpose_b, device_out, p.accumulate);
          const double error = relative_error(gpu().to_host(device_out), reference_product(p, a, b, out));
          EXPECT_LE(error, p.tolerance()) << p.describe() << ", round " << round;
        }
}

TEST_F(CudaMatmul, AnOverwritingProductDoesNotReadOut) {
  std::mt19937_64 rng(8);
  for (DType dtype : {DType::f32, DType::bf16}) {
    const Product p{33, 64, 17, false, true, false, dtype, dtype};
    const Tensor a = random_values(p.a_shape(), dtype, rng), b = random_values(p.b_shape(), dtype, rng);
    Tensor nan = Tensor::empty({p.rows, p.cols}, DType::f64);
    for (double& x : nan.span<double>()) x = std::numeric_limits<double>::quiet_NaN();
    Tensor device_out = upload(convert_dtype(nan, dtype));
    gpu().matmul(upload(a), false, upload(b), true, device_out, false);
    const Tensor zeros = Tensor::zeros({p.rows, p.cols}, DType::f64);
    EXPECT_LE(relative_error(gpu().to_host(device_out), reference_product(p, a, b, zeros)), p.tolerance())
        << dtype_name(dtype);
  }
}

// The model's buffers are made once and never cleared: the first product into one must write all of it. The
// shapes are the size of a model's projections, where cuBLASLt picks its tensor-core kernels.
TEST_F(CudaMatmul, AProductIntoFreshMemoryWritesEveryElement) {
  std::mt19937_64 rng(11);
  for (DType dtype : {DType::f32, DType::bf16}) {
    const Product p{256, 256, 768, false, true, false, dtype, dtype};
    const Tensor a = random_values(p.a_shape(), dtype, rng), b = random_values(p.b_shape(), dtype, rng);
    Tensor device_out = gpu().empty({p.rows, p.cols}, dtype);
    gpu().matmul(upload(a), false, upload(b), true, device_out, false);
    const Tensor zeros = Tensor::zeros({p.rows, p.cols}, DType::f64);
    EXPECT_LE(relative_error(gpu().to_host(device_out), reference_product(p, a, b, zeros)), p.tolerance())
        << dtype_name(dtype);
  }
}

TEST_F(CudaMatmul, OperandsAtUnalignedOffsets) {
  // Views one or three elements into their buffers: 4-byte (f32) or 2-byte (bf16) aligned pointers.
  std::mt19937_64 rng(9);
  for (DType dtype : {DType::f32, DType::bf16}) {
    const Product p{9, 31, 19, false, true, true, dtype, DType::f32};
    const Tensor a = random_values(p.a_shape(), dtype, rng), b = random_values(p.b_shape(), dtype, rng);
    const Tensor out = random_values({p.rows, p.cols}, DType::f32, rng);
    Tensor a_buffer = gpu().empty({p.rows * p.inner + 1}, dtype);
    Tensor b_buffer = gpu().empty({p.cols * p.inner + 3}, dtype);
    Tensor out_buffer = gpu().empty({p.rows * p.cols + 1}, DType::f32);
    Tensor a_view = a_buffer.flat(1, p.a_shape()), b_view = b_buffer.flat(3, p.b_shape());
    Tensor out_view = out_buffer.flat(1, {p.rows, p.cols});
    gpu().copy(a, a_view);
    gpu().copy(b, b_view);
    gpu().copy(out, out_view);
    gpu().matmul(a_view, false, b_view, true, out_view, true);
    EXPECT_LE(relative_error(gpu().to_host(out_view), reference_product(p, a, b, out)), p.tolerance())
        << dtype_name(dtype);
  }
}

TEST_F(CudaMatmul, EmptyDimensions) {
  std::mt19937_64 rng(10);
  // Inner dimension 0: an empty sum, so out = 0, or out unchanged when accumulating.
  const Tensor out = random_values({4, 6}, DType::f32, rng);
  const Tensor a = gpu().empty({4, 0}, DType::f32), b = gpu().empty({0, 6}, DType::f32);
  Tensor overwritten = upload(out), accumulated = upload(out);
  gpu().matmul(a, false, b, false, overwritten, false);
  gpu().matmul(a, false, b, false, accumulated, true);
  const Tensor zeros = gpu().to_host(overwritten);
  EXPECT_TRUE(
      std::all_of(zeros.data<float>(), zeros.data<float>() + zeros.numel(), [](float x) { return x == 0; }));
  EXPECT_TRUE(testing::same_bytes(gpu().to_host(accumulated), out));
  // No rows, or no columns: nothing to compute, and nothing fails.
  Tensor no_rows = gpu().empty({0, 6}, DType::f32), no_cols = gpu().empty({4, 0}, DType::f32);
  gpu().matmul(gpu().empty({0, 3}, DType::f32), false, gpu().empty({3, 6}, DType::f32), false, no_rows,
               false);
  gpu().matmul(gpu().empty({4, 3}, DType::f32), false, gpu().empty({3, 0}, DType::f32), false, no_cols, true);
  gpu().synchronize();
}

}  // namespace
}  // namespace minimind
