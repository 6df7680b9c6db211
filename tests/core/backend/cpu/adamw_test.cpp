// adamw_step (references: two steps of torch.optim.AdamW's update worked out by hand below, to 1e-13
// relative in f64 and 1e-6 in f32; the limits of the bias corrections and of the weight decay; a plain loop
// over the update formula for a buffer large enough to take the parallel path; a skipped step changes no
// bit; the clip factor gives the same bits as scaling the gradient buffer first, as the trainer used to; the
// compute copy equals the updated params).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "support/gradient_check.h"
#include "support/tensor_helpers.h"

namespace minimind {
namespace {

using testing::clone;
using testing::element;
using testing::expect_rejects;
using testing::random_tensor;

Tensor make(const std::vector<double>& values, DType dtype) {
  Tensor t = Tensor::empty({static_cast<int64_t>(values.size())}, dtype);
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::f32) {
      t.data<float>()[i] = static_cast<float>(values[i]);
    } else {
      t.data<double>()[i] = values[i];
    }
  }
  return t;
}

void expect_values(const Tensor& t, const std::vector<double>& expected, double rtol,
                   const std::string& what) {
  ASSERT_EQ(t.numel(), static_cast<int64_t>(expected.size())) << what;
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(element(t, i), expected[i], rtol * std::abs(expected[i]) + 1e-300) << what << "[" << i << "]";
}

// The step's control and result scalars as update_decision leaves them for an applied step.
struct StepScalars {
  Tensor control = Tensor::zeros({kStepControlSize}, DType::f64);
  Tensor result = Tensor::zeros({kStepResultSize}, DType::f64);

  StepScalars(double learning_rate, int64_t step, double clip = 1.0, bool applied = true) {
    control.data<double>()[kControlLearningRate] = learning_rate;
    control.data<double>()[kControlAdamStep] = static_cast<double>(step);
    result.data<double>()[kResultClipFactor] = clip;
    result.data<double>()[kResultApplied] = applied ? 1.0 : 0.0;
  }
};

// One step without a compute copy.
void adamw(Backend& backend, Tensor& params, const Tensor& grads, Tensor& m, Tensor& v,
           const AdamWOptions& options, double learning_rate, int64_t step, double clip = 1.0,
           bool applied = true) {
  const StepScalars scalars(learning_rate, step, clip, applied);
  Tensor no_compute_params;
  backend.adamw_step(params, grads, m, v, options, scalars.control, scalars.result, no_compute_params);
}

// lr 0.1, betas (0.9, 0.999), eps 1e-8, weight decay 0.1; p = (1, -2, 0.5), then gradients g1 and g2.
void check_two_hand_computed_steps(DType dtype, double rtol) {
  CpuBackend backend;
  AdamWOptions options;
  options.weight_decay = 0.1;
  Tensor params = make({1.0, -2.0, 0.5}, dtype);
  Tensor m = make({0, 0, 0}, dtype), v = make({0, 0, 0}, dtype);

  // Step 1, g1 = (0.5, -0.25, 0): m = 0.1 g1, v = 0.001 g1^2; the bias corrections (0.1, 0.001) make
  // m_hat = g1 and sqrt(v_hat) = |g1|, so each weight moves by lr g / (|g| + eps) after decaying by 0.99.
  adamw(backend, params, make({0.5, -0.25, 0.0}, dtype), m, v, options, 0.1, 1);
  expect_values(m, {0.05, -0.025, 0.0}, rtol, "m after step 1");
  expect_values(v, {0.00025, 0.0000625, 0.0}, rtol, "v after step 1");
  const std::vector<double> p1 = {0.99 - 0.1 * 0.5 / 0.50000001, -1.98 + 0.1 * 0.25 / 0.25000001, 0.495};
  expect_values(params, p1, rtol, "p after step 1");

  // Step 2, g2 = (-0.5, 1, 2):
  //   m = 0.9 m + 0.1 g2 = (0.045 - 0.05, -0.0225 + 0.1, 0 + 0.2)
  //   v = 0.999 v + 0.001 g2^2 = (0.00024975 + 0.00025, 0.0000624375 + 0.001, 0 + 0.004)
  //   bias corrections 1 - 0.9^2 = 0.19 and 1 - 0.999^2 = 0.001999
  adamw(backend, params, make({-0.5, 1.0, 2.0}, dtype), m, v, options, 0.1, 2);
  const std::vector<double> m2 = {-0.005, 0.0775, 0.2};
  const std::vector<double> v2 = {0.00049975, 0.0010624375, 0.004};
  expect_values(m, m2, rtol, "m after step 2");
  expect_values(v, v2, rtol, "v after step 2");
  std::vector<double> p2(3);
  for (int i = 0; i < 3; ++i)
    p2[i] = p1[i] * 0.99 - (0.1 / 0.19) * m2[i] / (std::sqrt(v2[i]) / std::sqrt(0.001999) + 1e-8);
  // v2[0] / 0.001999 = 0.25 exactly: the first weight moves by (0.1 / 0.19) * 0.005 / 0.50000001.
  EXPECT_NEAR(p2[0], 0.99 * p1[0] + (0.1 / 0.19) * 0.005 / 0.50000001, 1e-15);
  expect_values(params, p2, rtol, "p after step 2");
}

TEST(CpuAdamW, TwoStepsMatchHandComputedValuesF64) {
  check_two_hand_computed_steps(DType::f64, 1e-13);
}

TEST(CpuAdamW, TwoStepsMatchHandComputedValuesF32) {
  check_two_hand_computed_steps(DType::f32, 1e-6);
}

TEST(CpuAdamW, WeightDecayAloneScalesTheWeights) {
  CpuBackend backend;
  AdamWOptions options;
  options.weight_decay = 0.5;
  Tensor params = make({2.0, -4.0}, DType::f64);
  Tensor m = make({0, 0}, DType::f64), v = make({0, 0}, DType::f64);
  const Tensor zero_gradient = make({0, 0}, DType::f64);
  adamw(backend, params, zero_gradient, m, v, options, 0.01, 3);
  expect_values(params, {2.0 * 0.995, -4.0 * 0.995}, 1e-15, "decayed p");

  options.weight_decay = 0.0;  // no decay and no gradient: nothing moves
  adamw(backend, params, zero_gradient, m, v, options, 0.01, 4);
  expect_values(params, {2.0 * 0.995, -4.0 * 0.995}, 0.0, "p without decay");
}

// At step 1 the corrections undo the (1 - beta) factors: every weight moves by lr whatever the gradient's
// scale. Without them the move would be lr * 0.1 / sqrt(0.001), about 3.16 lr.
TEST(CpuAdamW, FirstStepMovesEachWeightByTheLearningRate) {
  CpuBackend backend;
  AdamWOptions options;
  Tensor params = make({0, 0, 0, 0}, DType::f64);
  Tensor m = make({0, 0, 0, 0}, DType::f64), v = make({0, 0, 0, 0}, DType::f64);
  adamw(backend, params, make({1e-3, -1.0, 1e3, -7.0}, DType::f64), m, v, options, 0.01, 1);
  expect_values(params, {-0.01, 0.01, -0.01, 0.01}, 1e-4, "p");
}

// Late in training the corrections tend to one: beta^step underflows and the step is the plain ratio.
TEST(CpuAdamW, LateStepsUseUncorrectedMoments) {
  CpuBackend backend;
  AdamWOptions options;
  options.weight_decay = 0.1;
  Tensor params = make({1.0, -1.0}, DType::f64);
  Tensor m = make({0.2, 0.3}, DType::f64), v = make({0.04, 0.01}, DType::f64);
  adamw(backend, params, make({0.5, -0.5}, DType::f64), m, v, options, 0.01, 10'000'000);
  const double m0 = 0.9 * 0.2 + 0.1 * 0.5, m1 = 0.9 * 0.3 - 0.1 * 0.5;
  const double v0 = 0.999 * 0.04 + 0.001 * 0.25, v1 = 0.999 * 0.01 + 0.001 * 0.25;
  expect_values(
      params,
      {1.0 * 0.999 - 0.01 * m0 / (std::sqrt(v0) + 1e-8), -1.0 * 0.999 - 0.01 * m1 / (std::sqrt(v1) + 1e-8)},
      1e-14, "p");
}

// A buffer that takes the parallel path and ends in a partial chunk, against the formula applied one
// element at a time.
TEST(CpuAdamW, LargeBufferMatchesElementwiseFormula) {
  std::mt19937_64 rng(1);
  CpuBackend backend;
  const int64_t count = 50'001;
  AdamWOptions options;
  options.weight_decay = 0.1;
  Tensor params = random_tensor({count}, DType::f64, rng);
  const Tensor grads = random_tensor({count}, DType::f64, rng);
  Tensor m = random_tensor({count}, DType::f64, rng, 0.1);
  Tensor v = random_tensor({count}, DType::f64, rng, 0.01);
  for (double& x : v.span<double>()) x = std::abs(x);
  std::vector<double> expected_p(count), expected_m(count), expected_v(count);
  const double bias_correction1 = 1 - std::pow(0.9, 7), bias_correction2 = 1 - std::pow(0.999, 7);
  for (int64_t i = 0; i < count; ++i) {
    const double g = grads.data<double>()[i];
    expected_m[i] = 0.9 * m.data<double>()[i] + 0.1 * g;
    expected_v[i] = 0.999 * v.data<double>()[i] + 0.001 * g * g;
    expected_p[i] = params.data<double>()[i] * (1 - 3e-4 * 0.1) -
                    3e-4 / bias_correction1 * expected_m[i] /
                        (std::sqrt(expected_v[i]) / std::sqrt(bias_correction2) + 1e-8);
  }
  adamw(backend, params, grads, m, v, options, 3e-4, 7);
  for (int64_t i = 0; i < count; ++i) {
    ASSERT_NEAR(m.data<double>()[i], expected_m[i], 1e-15) << i;
    ASSERT_NEAR(v.data<double>()[i], expected_v[i], 1e-16) << i;
    ASSERT_NEAR(params.data<double>()[i], expected_p[i], 1e-14) << i;
  }
}

// A skipped step (result[kResultApplied] = 0) leaves the weights, the moments and the compute copy alone.
TEST(CpuAdamW, SkippedStepChangesNothing) {
  std::mt19937_64 rng(2);
  CpuBackend backend;
  AdamWOptions options;
  options.weight_decay = 0.1;
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor params = random_tensor({37}, dtype, rng), grads = random_tensor({37}, dtype, rng);
    Tensor m = random_tensor({37}, dtype, rng), v = random_tensor({37}, dtype, rng, 0.01);
    Tensor compute = random_tensor({37}, dtype, rng);
    const Tensor params_before = clone(params), m_before = clone(m), v_before = clone(v),
                 compute_before = clone(compute);
    const StepScalars scalars(0.1, 3, 0.5, false);
    backend.adamw_step(params, grads, m, v, options, scalars.control, scalars.result, compute);
    for (const auto& [after, before] : {std::pair{&params, &params_before}, std::pair{&m, &m_before},
                                        std::pair{&v, &v_before}, std::pair{&compute, &compute_before}})
      EXPECT_EQ(std::memcmp(after->raw(), before->raw(), after->bytes()), 0);
  }
}

// The clip factor multiplies the gradient inside the update: the same bits as scaling the gradient buffer by
// the factor first (the trainer's former clip_gradient_norm) and then stepping unclipped.
TEST(CpuAdamW, ClipFactorEqualsScalingTheGradientFirst) {
  std::mt19937_64 rng(3);
  CpuBackend backend;
  AdamWOptions options;
  options.weight_decay = 0.01;
  const double clip = 0.123456789;
  for (DType dtype : {DType::f32, DType::f64}) {
    const int64_t count = 40'001;  // the parallel path and a partial chunk
    Tensor params = random_tensor({count}, dtype, rng), grads = random_tensor({count}, dtype, rng);
    Tensor m = random_tensor({count}, dtype, rng, 0.1), v = random_tensor({count}, dtype, rng, 0.01);
    for (int64_t i = 0; i < count; ++i)
      if (dtype == DType::f32) {
        v.data<float>()[i] = std::abs(v.data<float>()[i]);
      } else {
        v.data<double>()[i] = std::abs(v.data<double>()[i]);
      }
    Tensor params_scaled = clone(params), grads_scaled = clone(grads), m_scaled = clone(m),
           v_scaled = clone(v);
    adamw(backend, params, grads, m, v, options, 1e-3, 5, clip);
    backend.scale(grads_scaled, clip);
    adamw(backend, params_scaled, grads_scaled, m_scaled, v_scaled, options, 1e-3, 5, 1.0);
    EXPECT_EQ(std::memcmp(params.raw(), params_scaled.raw(), params.bytes()), 0) << dtype_name(dtype);
    EXPECT_EQ(std::memcmp(m.raw(), m_scaled.raw(), m.bytes()), 0) << dtype_name(dtype);
    EXPECT_EQ(std::memcmp(v.raw(), v_scaled.raw(), v.bytes()), 0) << dtype_name(dtype);
    // And the clip is not a no-op: the first moment is the clipped gradient's.
    Tensor params_unclipped = clone(params_scaled), m_unclipped = Tensor::zeros({count}, dtype),
           v_unclipped = Tensor::zeros({count}, dtype), m_clipped = Tensor::zeros({count}, dtype),
           v_clipped = Tensor::zeros({count}, dtype);
    adamw(backend, params_unclipped, grads, m_clipped, v_clipped, options, 1e-3, 1, clip);
    adamw(backend, params_unclipped, grads, m_unclipped, v_unclipped, options, 1e-3, 1, 1.0);
    EXPECT_NEAR(element(m_clipped, 7), clip * element(m_unclipped, 7),
                1e-6 * std::abs(element(m_unclipped, 7)));
  }
}

// compute_params, when given, holds the updated params (on the CPU the compute dtype is the master's).
TEST(CpuAdamW, ComputeParamsReceiveTheUpdatedParams) {
  std::mt19937_64 rng(4);
  CpuBackend backend;
  AdamWOptions options;
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor params = random_tensor({50}, dtype, rng), grads = random_tensor({50}, dtype, rng);
    Tensor m = Tensor::zeros({50}, dtype), v = Tensor::zeros({50}, dtype);
    Tensor compute = Tensor::zeros({50}, dtype);
    const Tensor params_before = clone(params);
    const StepScalars scalars(0.01, 1);
    backend.adamw_step(params, grads, m, v, options, scalars.control, scalars.result, compute);
    EXPECT_NE(std::memcmp(params.raw(), params_before.raw(), params.bytes()), 0);
    EXPECT_EQ(std::memcmp(params.raw(), compute.raw(), params.bytes()), 0);
  }
}

TEST(CpuAdamW, RejectsMismatchedBuffersAndBadScalars) {
  CpuBackend backend;
  AdamWOptions options;
  const StepScalars scalars(1e-3, 1);
  const Tensor& control = scalars.control;
  const Tensor& result = scalars.result;
  Tensor params = Tensor::zeros({4}, DType::f32);
  const Tensor grads = Tensor::zeros({4}, DType::f32);
  Tensor m = Tensor::zeros({4}, DType::f32), v = Tensor::zeros({4}, DType::f32), none;
  EXPECT_NO_THROW(backend.adamw_step(params, grads, m, v, options, control, result, none));
  const Tensor short_grads = Tensor::zeros({3}, DType::f32);
  expect_rejects([&] { backend.adamw_step(params, short_grads, m, v, options, control, result, none); },
                 "grads");
  Tensor m_f64 = Tensor::zeros({4}, DType::f64);
  expect_rejects([&] { backend.adamw_step(params, grads, m_f64, v, options, control, result, none); }, "m");
  Tensor v_2d = Tensor::zeros({2, 2}, DType::f32);
  expect_rejects([&] { backend.adamw_step(params, grads, m, v_2d, options, control, result, none); }, "v");
  const Tensor control_short = Tensor::zeros({kStepControlSize - 1}, DType::f64);
  expect_rejects([&] { backend.adamw_step(params, grads, m, v, options, control_short, result, none); },
                 "control");
  const Tensor result_f32 = Tensor::zeros({kStepResultSize}, DType::f32);
  expect_rejects([&] { backend.adamw_step(params, grads, m, v, options, control, result_f32, none); },
                 "result");
  Tensor compute_f64 = Tensor::zeros({4}, DType::f64);  // f64 computes with f64 master weights
  expect_rejects([&] { backend.adamw_step(params, grads, m, v, options, control, result, compute_f64); },
                 "compute_params");
  Tensor compute_bf16 = Tensor::zeros({4}, DType::bf16);  // the CPU does not compute in bf16
  expect_rejects([&] { backend.adamw_step(params, grads, m, v, options, control, result, compute_bf16); },
                 "compute_params");
  Tensor compute_short = Tensor::zeros({3}, DType::f32);
  expect_rejects([&] { backend.adamw_step(params, grads, m, v, options, control, result, compute_short); },
                 "compute_params");
  Tensor params_i32 = Tensor::zeros({4}, DType::i32);
  const Tensor grads_i32 = Tensor::zeros({4}, DType::i32);
  Tensor m_i32 = Tensor::zeros({4}, DType::i32), v_i32 = Tensor::zeros({4}, DType::i32);
  expect_rejects(
      [&] { backend.adamw_step(params_i32, grads_i32, m_i32, v_i32, options, control, result, none); },
      "params");
  options.beta2 = 1.0;
  EXPECT_THROW(backend.adamw_step(params, grads, m, v, options, control, result, none),
               std::invalid_argument);
}

}  // namespace
}  // namespace minimind
