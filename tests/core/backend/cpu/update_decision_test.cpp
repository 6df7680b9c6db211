// update_decision (references: closed forms computed here: the mean over micro-steps of weighted / scored +
// aux, the square root of the sum of squares, torch's clip factor max_norm / (norm + 1e-6) below one, and
// the rule that a step applies only when its loss and norm are finite and within their limits).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "support/tensor_helpers.h"

namespace minimind {
namespace {

using testing::expect_rejects;
using testing::f64_tensor;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Decision {
  double loss, aux, norm, clip;
  bool applied;
};

// micro: one {weighted, scored, aux} per micro-step.
Decision decide(const std::vector<std::vector<double>>& micro, double sum_squares, double max_norm = 0.0,
                double loss_limit = kInf, double norm_limit = kInf) {
  CpuBackend backend;
  std::vector<double> totals;
  for (const auto& row : micro) totals.insert(totals.end(), row.begin(), row.end());
  const Tensor micro_totals = f64_tensor({static_cast<int64_t>(micro.size()), kLossTotalsSize}, totals);
  Tensor control = Tensor::zeros({kStepControlSize}, DType::f64);
  control.data<double>()[kControlLearningRate] = 1e-3;
  control.data<double>()[kControlAdamStep] = 1;
  control.data<double>()[kControlMaxGradNorm] = max_norm;
  control.data<double>()[kControlLossLimit] = loss_limit;
  control.data<double>()[kControlGradNormLimit] = norm_limit;
  Tensor result = f64_tensor({kStepResultSize}, {-7, -7, -7, -7, -7});  // every slot written
  backend.update_decision(f64_tensor({1}, {sum_squares}), micro_totals, control, result);
  const double* r = result.data<double>();
  EXPECT_TRUE(r[kResultApplied] == 0.0 || r[kResultApplied] == 1.0) << r[kResultApplied];
  return {r[kResultLoss], r[kResultAuxLoss], r[kResultGradNorm], r[kResultClipFactor],
          r[kResultApplied] == 1.0};
}

TEST(UpdateDecision, MeanLossAndAuxOverMicroSteps) {
  // Cross entropies 6/3 = 2, 2/4 = 0.5, and 0 for a micro-step that scored nothing.
  const Decision d = decide({{6, 3, 0.5}, {2, 4, 0.25}, {0, 0, 0.1}}, 25.0);
  EXPECT_NEAR(d.loss, (2.0 + 0.5 + 0.5 + 0.25 + 0.1) / 3, 1e-15);
  EXPECT_NEAR(d.aux, (0.5 + 0.25 + 0.1) / 3, 1e-15);
  EXPECT_EQ(d.norm, 5.0);
  EXPECT_EQ(d.clip, 1.0);  // max_norm 0: no clipping
  EXPECT_TRUE(d.applied);
}

TEST(UpdateDecision, ClipFactorIsTorchsBelowOne) {
  EXPECT_DOUBLE_EQ(decide({{1, 1, 0}}, 25.0, 1.0).clip, 1.0 / (5.0 + 1e-6));
  // At the threshold torch still scales, by 5 / (5 + 1e-6).
  EXPECT_DOUBLE_EQ(decide({{1, 1, 0}}, 25.0, 5.0).clip, 5.0 / (5.0 + 1e-6));
  EXPECT_EQ(decide({{1, 1, 0}}, 25.0, 10.0).clip, 1.0);
  EXPECT_EQ(decide({{1, 1, 0}}, 0.0, 1.0).clip, 1.0);  // a zero gradient is not scaled up
  EXPECT_EQ(decide({{1, 1, 0}}, 25.0, -1.0).clip, 1.0);
  // Clipping does not decide whether the step applies.
  EXPECT_TRUE(decide({{1, 1, 0}}, 1e12, 1.0).applied);
}

TEST(UpdateDecision, NonFiniteLossOrNormSkipsTheStep) {
  EXPECT_FALSE(decide({{kNaN, 3, 0}}, 1.0).applied);
  EXPECT_FALSE(decide({{kInf, 3, 0}}, 1.0).applied);
  EXPECT_FALSE(decide({{1, 3, kNaN}}, 1.0).applied);              // a NaN aux loss makes the loss NaN
  EXPECT_FALSE(decide({{1, 3, 0}, {-kInf, 3, 0}}, 1.0).applied);  // one micro-step is enough
  const Decision nan_norm = decide({{1, 3, 0}}, kNaN, 1.0);
  EXPECT_FALSE(nan_norm.applied);
  EXPECT_TRUE(std::isnan(nan_norm.norm));
  EXPECT_EQ(nan_norm.clip, 1.0);  // no NaN factor reaches the update
  EXPECT_FALSE(decide({{1, 3, 0}}, kInf).applied);
}

TEST(UpdateDecision, LimitsAreInclusive) {
  // loss 2, norm 3
  EXPECT_TRUE(decide({{4, 2, 0}}, 9.0, 0.0, 2.0, 3.0).applied);
  EXPECT_FALSE(decide({{4, 2, 0}}, 9.0, 0.0, 1.999, 3.0).applied);
  EXPECT_FALSE(decide({{4, 2, 0}}, 9.0, 0.0, 2.0, 2.999).applied);
  // The limit judges the norm before clipping.
  EXPECT_FALSE(decide({{4, 2, 0}}, 9.0, 1.0, 2.0, 2.999).applied);
}

TEST(UpdateDecision, RejectsBadScalars) {
  CpuBackend backend;
  const Tensor sum = Tensor::zeros({1}, DType::f64), totals = Tensor::zeros({2, kLossTotalsSize}, DType::f64);
  const Tensor control = Tensor::zeros({kStepControlSize}, DType::f64);
  Tensor result = Tensor::zeros({kStepResultSize}, DType::f64);
  EXPECT_NO_THROW(backend.update_decision(sum, totals, control, result));
  const Tensor sum_f32 = Tensor::zeros({1}, DType::f32);
  expect_rejects([&] { backend.update_decision(sum_f32, totals, control, result); }, "sum_squares");
  const Tensor totals_narrow = Tensor::zeros({2, 2}, DType::f64);
  expect_rejects([&] { backend.update_decision(sum, totals_narrow, control, result); }, "micro_totals");
  const Tensor no_micro_steps = Tensor::zeros({0, kLossTotalsSize}, DType::f64);
  expect_rejects([&] { backend.update_decision(sum, no_micro_steps, control, result); }, "micro_totals");
  const Tensor control_long = Tensor::zeros({kStepControlSize + 1}, DType::f64);
  expect_rejects([&] { backend.update_decision(sum, totals, control_long, result); }, "control");
  Tensor result_short = Tensor::zeros({kStepResultSize - 1}, DType::f64);
  expect_rejects([&] { backend.update_decision(sum, totals, control, result_short); }, "result");
}

}  // namespace
}  // namespace minimind
