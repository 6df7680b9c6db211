// expert_matmul and its backward (reference: per-expert products written here as plain loops in double over
// each expert's rows and its own matrix inside a strided block; experts without rows, rows past the last
// offset and the gaps between the matrices stay untouched; d_weights accumulates, d_x is overwritten; f32
// within 1e-5 of f64).
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "support/gradient_check.h"
#include "support/tensor_helpers.h"

namespace minimind {
namespace {

using testing::clone;
using testing::expect_rejects;
using testing::i32_tensor;
using testing::random_tensor;
using testing::relative_error;
using testing::to_f32;

constexpr double kSentinel = 12345.0;

// Four experts of [3, 5] at stride 20 (5 elements of gap after each), offsets with experts 0 and 2 empty and
// two rows past the end of the plan.
struct ExpertLayout {
  static constexpr int64_t kOut = 3, kIn = 5, kStride = 20, kExperts = 4, kRows = 9;
  Tensor offsets = i32_tensor({kExperts + 1}, {0, 0, 4, 4, 7});
  ExpertWeights weights(const Tensor& block) const { return {block, {kOut, kIn}, kStride, kExperts}; }
};

// out[r] = x[r] W_e^T for the rows of expert e.
std::vector<double> reference_forward(const Tensor& x, const Tensor& block, const Tensor& offsets,
                                      const Tensor& out) {
  std::vector<double> expected(out.span<double>().begin(), out.span<double>().end());
  const int32_t* o = offsets.data<int32_t>();
  for (int64_t e = 0; e < ExpertLayout::kExperts; ++e)
    for (int64_t r = o[e]; r < o[e + 1]; ++r)
      for (int64_t j = 0; j < ExpertLayout::kOut; ++j) {
        double sum = 0;
        for (int64_t i = 0; i < ExpertLayout::kIn; ++i)
          sum += x.data<double>()[r * ExpertLayout::kIn + i] *
                 block.data<double>()[e * ExpertLayout::kStride + j * ExpertLayout::kIn + i];
        expected[r * ExpertLayout::kOut + j] = sum;
      }
  return expected;
}

TEST(ExpertMatmul, ForwardIsEachExpertsProductOverItsRows) {
  CpuBackend backend;
  std::mt19937_64 rng(1);
  const ExpertLayout layout;
  const Tensor x = random_tensor({ExpertLayout::kRows, ExpertLayout::kIn}, DType::f64, rng);
  const Tensor block = random_tensor({ExpertLayout::kExperts * ExpertLayout::kStride}, DType::f64, rng);
  Tensor out = testing::filled({ExpertLayout::kRows, ExpertLayout::kOut}, kSentinel);
  const std::vector<double> expected = reference_forward(x, block, layout.offsets, out);
  backend.expert_matmul(x, layout.weights(block), layout.offsets, out);
  for (int64_t i = 0; i < out.numel(); ++i) EXPECT_NEAR(out.data<double>()[i], expected[i], 1e-14) << i;
  // Rows 7 and 8 lie past the plan.
  for (int64_t i = 7 * ExpertLayout::kOut; i < out.numel(); ++i) EXPECT_EQ(out.data<double>()[i], kSentinel);
}

TEST(ExpertMatmul, BackwardMatchesPerExpertProducts) {
  CpuBackend backend;
  std::mt19937_64 rng(2);
  const ExpertLayout layout;
  const Tensor x = random_tensor({ExpertLayout::kRows, ExpertLayout::kIn}, DType::f64, rng);
  const Tensor d_out = random_tensor({ExpertLayout::kRows, ExpertLayout::kOut}, DType::f64, rng);
  const Tensor block = random_tensor({ExpertLayout::kExperts * ExpertLayout::kStride}, DType::f64, rng);
  Tensor d_block = random_tensor({ExpertLayout::kExperts * ExpertLayout::kStride}, DType::f64, rng);
  const Tensor d_block_before = clone(d_block);
  Tensor d_x = testing::filled({ExpertLayout::kRows, ExpertLayout::kIn}, kSentinel);
  backend.expert_matmul_backward(d_out, x, layout.weights(block), layout.offsets, d_x,
                                 layout.weights(d_block));

  const int32_t* o = layout.offsets.data<int32_t>();
  std::vector<double> expected_d_x(d_x.numel(), kSentinel);
  std::vector<double> expected_d_block(d_block_before.span<double>().begin(),
                                       d_block_before.span<double>().end());
  for (int64_t e = 0; e < ExpertLayout::kExperts; ++e)
    for (int64_t r = o[e]; r < o[e + 1]; ++r) {
      for (int64_t i = 0; i < ExpertLayout::kIn; ++i) {
        double sum = 0;
        for (int64_t j = 0; j < ExpertLayout::kOut; ++j)
          sum += d_out.data<double>()[r * ExpertLayout::kOut + j] *
                 block.data<double>()[e * ExpertLayout::kStride + j * ExpertLayout::kIn + i];
        expected_d_x[r * ExpertLayout::kIn + i] = sum;
      }
      for (int64_t j = 0; j < ExpertLayout::kOut; ++j)
        for (int64_t i = 0; i < ExpertLayout::kIn; ++i)
          expected_d_block[e * ExpertLayout::kStride + j * ExpertLayout::kIn + i] +=
              d_out.data<double>()[r * ExpertLayout::kOut + j] * x.data<double>()[r * ExpertLayout::kIn + i];
    }
  for (int64_t i = 0; i < d_x.numel(); ++i) EXPECT_NEAR(d_x.data<double>()[i], expected_d_x[i], 1e-14) << i;
  // Empty experts and the gaps keep their values exactly: += of nothing.
  for (int64_t i = 0; i < d_block.numel(); ++i)
    EXPECT_NEAR(d_block.data<double>()[i], expected_d_block[i], 1e-14) << i;
  for (int64_t i = 0; i < ExpertLayout::kStride; ++i)
    EXPECT_EQ(d_block.data<double>()[i], d_block_before.data<double>()[i]) << "expert 0, element " << i;
}

TEST(ExpertMatmul, Float32AgreesWithFloat64) {
  CpuBackend backend;
  std::mt19937_64 rng(3);
  const int64_t experts = 6, rows = 300, in = 64, out_features = 48;
  // Sizes per expert: 0, 120, 0, 1, 179, 0.
  const Tensor offsets = i32_tensor({experts + 1}, {0, 0, 120, 120, 121, 300, 300});
  const Tensor x = random_tensor({rows, in}, DType::f64, rng);
  const Tensor block = random_tensor({experts * out_features * in}, DType::f64, rng);
  const Tensor d_out = random_tensor({rows, out_features}, DType::f64, rng);
  const ExpertWeights w64{block, {out_features, in}, out_features * in, experts};
  const Tensor block32 = to_f32(block);
  const ExpertWeights w32{block32, {out_features, in}, out_features * in, experts};
  Tensor out64 = Tensor::zeros({rows, out_features}, DType::f64),
         out32 = Tensor::zeros({rows, out_features}, DType::f32);
  backend.expert_matmul(x, w64, offsets, out64);
  backend.expert_matmul(to_f32(x), w32, offsets, out32);
  EXPECT_LT(relative_error(out32, out64), 1e-5);

  Tensor d_x64 = Tensor::zeros({rows, in}, DType::f64), d_x32 = Tensor::zeros({rows, in}, DType::f32);
  Tensor d_block64 = Tensor::zeros(block.shape(), DType::f64),
         d_block32 = Tensor::zeros(block.shape(), DType::f32);
  backend.expert_matmul_backward(d_out, x, w64, offsets, d_x64,
                                 {d_block64, {out_features, in}, out_features * in, experts});
  backend.expert_matmul_backward(to_f32(d_out), to_f32(x), w32, offsets, d_x32,
                                 {d_block32, {out_features, in}, out_features * in, experts});
  EXPECT_LT(relative_error(d_x32, d_x64), 1e-5);
  EXPECT_LT(relative_error(d_block32, d_block64), 1e-5);
}

TEST(ExpertMatmul, RejectsBadArguments) {
  CpuBackend backend;
  const ExpertLayout layout;
  const Tensor x = Tensor::zeros({ExpertLayout::kRows, ExpertLayout::kIn}, DType::f32);
  const Tensor block = Tensor::zeros({ExpertLayout::kExperts * ExpertLayout::kStride}, DType::f32);
  Tensor out = Tensor::zeros({ExpertLayout::kRows, ExpertLayout::kOut}, DType::f32);
  const ExpertWeights w = layout.weights(block);
  EXPECT_NO_THROW(backend.expert_matmul(x, w, layout.offsets, out));
  const Tensor x_narrow = Tensor::zeros({ExpertLayout::kRows, ExpertLayout::kIn - 1}, DType::f32);
  expect_rejects([&] { backend.expert_matmul(x_narrow, w, layout.offsets, out); }, "weights");
  Tensor out_rows = Tensor::zeros({ExpertLayout::kRows - 1, ExpertLayout::kOut}, DType::f32);
  expect_rejects([&] { backend.expert_matmul(x, w, layout.offsets, out_rows); }, "out");
  const Tensor offsets_short = i32_tensor({ExpertLayout::kExperts}, {0, 0, 4, 4});
  expect_rejects([&] { backend.expert_matmul(x, w, offsets_short, out); }, "expert_offsets");
  const Tensor short_block = Tensor::zeros({3 * ExpertLayout::kStride + 14}, DType::f32);
  expect_rejects([&] { backend.expert_matmul(x, layout.weights(short_block), layout.offsets, out); },
                 "weights");
  const ExpertWeights overlapping{block, {ExpertLayout::kOut, ExpertLayout::kIn}, 14, ExpertLayout::kExperts};
  expect_rejects([&] { backend.expert_matmul(x, overlapping, layout.offsets, out); }, "weights");
  const Tensor block_f64 = Tensor::zeros({ExpertLayout::kExperts * ExpertLayout::kStride}, DType::f64);
  expect_rejects([&] { backend.expert_matmul(x, layout.weights(block_f64), layout.offsets, out); },
                 "weights.block");

  Tensor d_x = Tensor::zeros({ExpertLayout::kRows, ExpertLayout::kIn}, DType::f32);
  const Tensor d_out = Tensor::zeros({ExpertLayout::kRows, ExpertLayout::kOut}, DType::f32);
  Tensor d_block = Tensor::zeros(block.shape(), DType::f32);
  EXPECT_NO_THROW(backend.expert_matmul_backward(d_out, x, w, layout.offsets, d_x, layout.weights(d_block)));
  const Tensor d_block_f64 = Tensor::zeros(block.shape(), DType::f64);
  expect_rejects(
      [&] { backend.expert_matmul_backward(d_out, x, w, layout.offsets, d_x, layout.weights(d_block_f64)); },
      "d_weights.block");
  const ExpertWeights d_fewer{
      d_block, {ExpertLayout::kOut, ExpertLayout::kIn}, ExpertLayout::kStride, ExpertLayout::kExperts - 1};
  expect_rejects([&] { backend.expert_matmul_backward(d_out, x, w, layout.offsets, d_x, d_fewer); },
                 "d_weights");
  Tensor d_x_wide = Tensor::zeros({ExpertLayout::kRows, ExpertLayout::kIn + 1}, DType::f32);
  expect_rejects(
      [&] { backend.expert_matmul_backward(d_out, x, w, layout.offsets, d_x_wide, layout.weights(d_block)); },
      "d_x");
  // d_x may not alias the rows it reads.
  Tensor d_x_alias = x;
  expect_rejects(
      [&] {
        backend.expert_matmul_backward(d_out, x, w, layout.offsets, d_x_alias, layout.weights(d_block));
      },
      "d_x");
}

}  // namespace
}  // namespace minimind
