// Backend conformance, sampling: sample_tokens over the case table of cases.h on every backend of
// backends_under_test(). Reference: the same op on a CpuBackend in f64 (the host Sampler's filters), fed
// the same rounded logits, seen marks and uniform draws; the ids and the updated marks must be equal.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/backend/conformance/cases.h"
#include "core/backend/conformance/conformance.h"

namespace minimind::conformance {
namespace {

using SampleTokensConformance = OpConformance<SampleTokensCase>;

TEST_P(SampleTokensConformance, PicksTheReferenceToken) {
  const SampleTokensCase& c = test_case();
  ConformanceContext& ctx = context();
  std::uniform_real_distribution<double> uniform(-1.0, 1.0), unit(0.0, 1.0);
  Tensor values = Tensor::empty({c.rows, c.vocab}, DType::f64);
  for (double& x : values.span<double>()) {
    const double u = uniform(ctx.rng());
    x = c.scale * (c.levels > 0 ? std::round(u * c.levels) / c.levels : u);
  }
  Operand logits = ctx.from_values(values);
  Tensor marks = Tensor::zeros({c.rows, c.vocab}, DType::i32);
  for (int32_t& mark : marks.span<int32_t>()) mark = unit(ctx.rng()) < c.seen_share ? 1 : 0;
  Operand seen = ctx.indices(marks);
  std::vector<double> draws(static_cast<size_t>(c.rows));
  for (double& u : draws) u = unit(ctx.rng());
  Operand uniforms = ctx.scalars({c.rows}, draws);
  Tensor unset = Tensor::empty({c.rows}, DType::i32);
  for (int32_t& id : unset.span<int32_t>()) id = -7;  // every id is written
  Operand ids = ctx.indices(unset);

  ctx.reference().sample_tokens(logits.reference, c.filters, uniforms.reference, seen.reference,
                                ids.reference);
  ctx.under_test().sample_tokens(logits.under_test, c.filters, uniforms.under_test, seen.under_test,
                                 ids.under_test);
  for (int32_t id : ids.reference.span<int32_t>()) ASSERT_GE(id, 0) << "the reference drew no token";
  ctx.expect_same_indices(ids, "ids");
  ctx.expect_same_indices(seen, "seen (each drawn id marked)");
}

INSTANTIATE_TEST_SUITE_P(Backends, SampleTokensConformance, on_every_backend(kSampleTokensCases),
                         conformance_test_name<SampleTokensCase>);

}  // namespace
}  // namespace minimind::conformance
