// Backend conformance, the optimizer step: the update decision and AdamW (clipped, skipped, with the compute
// copy), over the case tables of cases.h on every backend of backends_under_test(). Reference: the same op on
// a CpuBackend in f64, fed the same inputs (the master weights, gradients and moments in the statistic dtype
// of the backend under test, the step's scalars in f64).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/backend/conformance/cases.h"
#include "core/backend/conformance/conformance.h"

namespace minimind::conformance {
namespace {

// ---- update decision ----------------------------------------------------------------------------------

using UpdateDecisionConformance = OpConformance<UpdateDecisionCase>;

TEST_P(UpdateDecisionConformance, MatchesF64Reference) {
  const UpdateDecisionCase& c = test_case();
  ConformanceContext& ctx = context();
  std::vector<double> totals;
  for (const std::vector<double>& micro : c.micro) totals.insert(totals.end(), micro.begin(), micro.end());
  Operand micro_totals = ctx.scalars({static_cast<int64_t>(c.micro.size()), kLossTotalsSize}, totals);
  Operand sum_squares = ctx.scalars({1}, {c.sum_squares});
  Operand control = ctx.scalars({kStepControlSize}, {1e-3, 1.0, c.max_norm, c.loss_limit, c.norm_limit});
  Operand result = ctx.scalars({kStepResultSize}, {-7, -7, -7, -7, -7});  // every slot is written
  ctx.reference().update_decision(sum_squares.reference, micro_totals.reference, control.reference,
                                  result.reference);
  ctx.under_test().update_decision(sum_squares.under_test, micro_totals.under_test, control.under_test,
                                   result.under_test);
  const Tensor values = ctx.result(result);
  const double* expected = result.reference.data<double>();
  const char* names[] = {"loss", "aux loss", "grad norm", "clip factor"};
  for (int64_t i = kResultLoss; i <= kResultClipFactor; ++i)
    ctx.expect_close(values.data<double>()[i], expected[i], c.tolerance, names[i]);
  EXPECT_TRUE(std::isfinite(values.data<double>()[kResultClipFactor]))
      << "the factor the update multiplies by";
  EXPECT_EQ(values.data<double>()[kResultApplied], expected[kResultApplied]) << "applied";
}

INSTANTIATE_TEST_SUITE_P(Backends, UpdateDecisionConformance, on_every_backend(kUpdateDecisionCases),
                         conformance_test_name<UpdateDecisionCase>);

// ---- adamw --------------------------------------------------------------------------------------------

using AdamwConformance = OpConformance<AdamwCase>;

TEST_P(AdamwConformance, Step) {
  const AdamwCase& c = test_case();
  ConformanceContext& ctx = context();
  Operand params = ctx.random({c.size}, Role::statistic), grads = ctx.random({c.size}, Role::statistic);
  // A previous step's state (none at step 1); v is a running mean of squares, so never negative.
  Tensor m_values = Tensor::zeros({c.size}, DType::f64), v_values = Tensor::zeros({c.size}, DType::f64);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  if (c.step > 1)
    for (int64_t i = 0; i < c.size; ++i) {
      m_values.data<double>()[i] = 0.1 * uniform(ctx.rng());
      v_values.data<double>()[i] = 0.01 * std::pow(uniform(ctx.rng()), 2);
    }
  Operand m = ctx.from_values(m_values, Role::statistic), v = ctx.from_values(v_values, Role::statistic);
  // The compute copy starts apart from params: a skipped step must leave it so, an applied one refresh it.
  Operand compute_params = ctx.random({c.size});
  AdamWOptions options;
  options.weight_decay = c.weight_decay;
  Operand control = ctx.scalars({kStepControlSize},
                                {c.learning_rate, static_cast<double>(c.step), 1.0, kInfinity, kInfinity});
  Operand result = ctx.scalars({kStepResultSize}, {0, 0, 0, c.clip, c.applied ? 1.0 : 0.0});
  ctx.reference().adamw_step(params.reference, grads.reference, m.reference, v.reference, options,
                             control.reference, result.reference, compute_params.reference);
  ctx.under_test().adamw_step(params.under_test, grads.under_test, m.under_test, v.under_test, options,
                              control.under_test, result.under_test, compute_params.under_test);
  ctx.expect_close(params, c.tolerance, "params");
  ctx.expect_close(m, c.tolerance, "m");
  ctx.expect_close(v, c.tolerance, "v");
  // The compute copy is the params rounded once to the compute dtype: half a unit in the last place of bf16
  // is 2^-9 relative.
  ctx.expect_close(compute_params, Tolerance{c.tolerance.f32, 2e-2}, "compute_params");
}

INSTANTIATE_TEST_SUITE_P(Backends, AdamwConformance, on_every_backend(kAdamwCases),
                         conformance_test_name<AdamwCase>);

}  // namespace
}  // namespace minimind::conformance
