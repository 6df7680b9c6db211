// masked_loss_totals and masked_loss_backward (references: closed forms computed here: the weighted sum and
// the count of scored rows, with an undefined mask scoring every row; d_losses = scale mask / scored, zero
// when nothing is scored; and finite differences in double of scale * weighted / scored w.r.t. the losses).
#include <gtest/gtest.h>

#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "support/gradient_check.h"
#include "support/tensor_helpers.h"

namespace minimind {
namespace {

using testing::expect_gradient_near;
using testing::expect_rejects;
using testing::f64_tensor;
using testing::numeric_gradient;
using testing::to_f32;

TEST(MaskedLoss, TotalsAreTheWeightedSumAndTheScoredCount) {
  CpuBackend backend;
  const Tensor losses = f64_tensor({4}, {2.0, 3.0, 5.0, 7.0});
  const Tensor mask = f64_tensor({4}, {1.0, 0.0, 1.0, 0.5});
  // The aux slot is the model's: left as it was.
  Tensor totals = f64_tensor({kLossTotalsSize}, {-1, -1, 0.25});
  backend.masked_loss_totals(losses, mask, totals);
  EXPECT_EQ(totals.data<double>()[kTotalsWeightedLoss], 2.0 + 5.0 + 3.5);
  EXPECT_EQ(totals.data<double>()[kTotalsScored], 2.5);
  EXPECT_EQ(totals.data<double>()[kTotalsAuxLoss], 0.25);

  backend.masked_loss_totals(losses, Tensor(), totals);  // no mask: every row scores
  EXPECT_EQ(totals.data<double>()[kTotalsWeightedLoss], 17.0);
  EXPECT_EQ(totals.data<double>()[kTotalsScored], 4.0);

  // f32 losses sum in double: 2^24 + 1 + 1 would round to 2^24 in float.
  Tensor big = Tensor::empty({3}, DType::f32);
  big.data<float>()[0] = 16777216.0f;
  big.data<float>()[1] = 1.0f;
  big.data<float>()[2] = 1.0f;
  backend.masked_loss_totals(big, Tensor(), totals);
  EXPECT_EQ(totals.data<double>()[kTotalsWeightedLoss], 16777218.0);
}

TEST(MaskedLoss, BackwardIsScaleTimesMaskOverScored) {
  CpuBackend backend;
  const Tensor mask = f64_tensor({4}, {1.0, 0.0, 1.0, 0.5});
  const Tensor totals = f64_tensor({kLossTotalsSize}, {10.5, 2.5, 0.0});
  Tensor d_losses = f64_tensor({4}, {9, 9, 9, 9});  // overwritten
  backend.masked_loss_backward(mask, totals, f64_tensor({1}, {0.5}), d_losses);
  const std::vector<double> expected = {0.5 / 2.5, 0.0, 0.5 / 2.5, 0.25 / 2.5};
  for (int64_t n = 0; n < 4; ++n) EXPECT_DOUBLE_EQ(d_losses.data<double>()[n], expected[n]) << n;

  backend.masked_loss_backward(Tensor(), f64_tensor({kLossTotalsSize}, {1, 4, 0}), f64_tensor({1}, {2.0}),
                               d_losses);
  for (int64_t n = 0; n < 4; ++n) EXPECT_EQ(d_losses.data<double>()[n], 0.5) << n;

  // Nothing scored: no gradient (and no division by zero).
  const Tensor no_rows = f64_tensor({4}, {0, 0, 0, 0});
  backend.masked_loss_backward(no_rows, f64_tensor({kLossTotalsSize}, {0, 0, 0}), f64_tensor({1}, {1.0}),
                               d_losses);
  for (int64_t n = 0; n < 4; ++n) EXPECT_EQ(d_losses.data<double>()[n], 0.0) << n;

  // f32: computed in double, rounded once.
  Tensor d_losses_f32 = Tensor::empty({4}, DType::f32);
  backend.masked_loss_backward(to_f32(mask), totals, f64_tensor({1}, {0.3}), d_losses_f32);
  EXPECT_EQ(d_losses_f32.data<float>()[3], static_cast<float>(0.3 * 0.5 / 2.5));
}

// The loss scale * weighted / scored, with the count held fixed (it carries no gradient).
TEST(MaskedLoss, BackwardMatchesFiniteDifferences) {
  CpuBackend backend;
  Tensor losses = f64_tensor({5}, {0.3, 1.7, 2.2, 0.9, 4.0});
  const Tensor mask = f64_tensor({5}, {1, 1, 0, 1, 0});
  const double scale = 0.7;
  Tensor totals = Tensor::zeros({kLossTotalsSize}, DType::f64);
  auto loss = [&] {
    backend.masked_loss_totals(losses, mask, totals);
    return scale * totals.data<double>()[kTotalsWeightedLoss] / totals.data<double>()[kTotalsScored];
  };
  loss();
  Tensor d_losses = Tensor::empty({5}, DType::f64);
  backend.masked_loss_backward(mask, totals, f64_tensor({1}, {scale}), d_losses);
  expect_gradient_near(d_losses, numeric_gradient(losses, loss), "d_losses");
}

TEST(MaskedLoss, RejectsBadArguments) {
  CpuBackend backend;
  const Tensor losses = Tensor::zeros({4}, DType::f32), mask = Tensor::zeros({4}, DType::f32);
  Tensor totals = Tensor::zeros({kLossTotalsSize}, DType::f64);
  EXPECT_NO_THROW(backend.masked_loss_totals(losses, mask, totals));
  const Tensor mask_f64 = Tensor::zeros({4}, DType::f64), mask_short = Tensor::zeros({3}, DType::f32);
  expect_rejects([&] { backend.masked_loss_totals(losses, mask_f64, totals); }, "loss_mask");
  expect_rejects([&] { backend.masked_loss_totals(losses, mask_short, totals); }, "loss_mask");
  Tensor totals_f32 = Tensor::zeros({kLossTotalsSize}, DType::f32);
  expect_rejects([&] { backend.masked_loss_totals(losses, mask, totals_f32); }, "totals");
  const Tensor losses_2d = Tensor::zeros({2, 2}, DType::f32), losses_i32 = Tensor::zeros({4}, DType::i32);
  expect_rejects([&] { backend.masked_loss_totals(losses_2d, Tensor(), totals); }, "losses");
  expect_rejects([&] { backend.masked_loss_totals(losses_i32, Tensor(), totals); }, "losses");

  Tensor d_losses = Tensor::zeros({4}, DType::f32);
  const Tensor scale = Tensor::zeros({1}, DType::f64);
  EXPECT_NO_THROW(backend.masked_loss_backward(mask, totals, scale, d_losses));
  const Tensor scale_two = Tensor::zeros({2}, DType::f64);
  expect_rejects([&] { backend.masked_loss_backward(mask, totals, scale_two, d_losses); }, "scale");
  const Tensor totals_short = Tensor::zeros({2}, DType::f64);
  expect_rejects([&] { backend.masked_loss_backward(mask, totals_short, scale, d_losses); }, "totals");
  expect_rejects([&] { backend.masked_loss_backward(mask_f64, totals, scale, d_losses); }, "loss_mask");
  Tensor d_losses_bf16 = Tensor::zeros({4}, DType::bf16);  // no statistic dtype of the CPU
  expect_rejects([&] { backend.masked_loss_backward(Tensor(), totals, scale, d_losses_bf16); }, "d_losses");
}

}  // namespace
}  // namespace minimind
