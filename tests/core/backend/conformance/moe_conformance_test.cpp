// Backend conformance, the mixture-of-experts ops: the router, the load-balancing loss, the dispatch plan
// with gather and combine, and the experts' grouped products, forward and backward, over the case tables of
// cases.h on every backend of backends_under_test(). Reference: the same op on a CpuBackend in f64, fed the
// same inputs (rounded once to the dtype of each operand's role on the backend under test). Each side chains
// its own saved tensors (scores, plans) from its forward into its backward.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/backend/conformance/cases.h"
#include "core/backend/conformance/conformance.h"

namespace minimind::conformance {
namespace {

// ---- moe router ---------------------------------------------------------------------------------------

using MoeRouterConformance = OpConformance<MoeRouterCase>;

TEST_P(MoeRouterConformance, ForwardAndBackward) {
  const MoeRouterCase& c = test_case();
  ConformanceContext& ctx = context();
  Operand logits;
  if (c.tied) {
    // Four values exact in every dtype: equal logits give bitwise equal scores, so ties stay ties.
    constexpr double kLevels[] = {-0.5, 0.0, 0.5, 1.0};
    Tensor values = Tensor::empty({c.rows, c.experts}, DType::f64);
    std::uniform_int_distribution<int> level(0, 3);
    for (double& x : values.span<double>()) x = kLevels[level(ctx.rng())];
    logits = ctx.from_values(values, Role::statistic);
  } else {
    logits = ctx.random({c.rows, c.experts}, 2.0, Role::statistic);
  }
  Operand scores = ctx.random({c.rows, c.experts}, Role::statistic);
  Operand topk_weight = ctx.random({c.rows, c.top_k}, Role::statistic);
  Tensor no_index = Tensor::zeros({c.rows, c.top_k}, DType::i32);
  Operand topk_index = ctx.indices(no_index);
  ctx.reference().moe_router_forward(logits.reference, c.normalize, scores.reference, topk_index.reference,
                                     topk_weight.reference);
  ctx.under_test().moe_router_forward(logits.under_test, c.normalize, scores.under_test,
                                      topk_index.under_test, topk_weight.under_test);
  ctx.expect_close(scores, c.tolerance, "scores");
  ctx.expect_same_indices(topk_index, "topk_index");
  ctx.expect_close(topk_weight, c.tolerance, "topk_weight");

  Operand d_topk_weight = ctx.random({c.rows, c.top_k}, Role::statistic);
  Operand d_scores = c.with_d_scores ? ctx.random({c.rows, c.experts}, Role::statistic) : Operand{};
  Operand d_logits = ctx.random({c.rows, c.experts}, Role::statistic);
  ctx.reference().moe_router_backward(d_topk_weight.reference, d_scores.reference, scores.reference,
                                      topk_index.reference, c.normalize, d_logits.reference);
  ctx.under_test().moe_router_backward(d_topk_weight.under_test, d_scores.under_test, scores.under_test,
                                       topk_index.under_test, c.normalize, d_logits.under_test);
  ctx.expect_close(d_logits, c.tolerance, "d_logits");
}

INSTANTIATE_TEST_SUITE_P(Backends, MoeRouterConformance, on_every_backend(kMoeRouterCases),
                         conformance_test_name<MoeRouterCase>);

// ---- moe aux loss -------------------------------------------------------------------------------------

// i32 [rows, top_k]: for each row, top_k distinct experts drawn from `experts`.
Tensor distinct_experts(int64_t rows, int64_t top_k, const std::vector<int32_t>& experts,
                        std::mt19937_64& rng) {
  Tensor index = Tensor::empty({rows, top_k}, DType::i32);
  std::vector<int32_t> pool = experts;
  for (int64_t n = 0; n < rows; ++n) {
    std::shuffle(pool.begin(), pool.end(), rng);
    std::copy(pool.begin(), pool.begin() + top_k, index.data<int32_t>() + n * top_k);
  }
  return index;
}

using MoeAuxLossConformance = OpConformance<MoeAuxLossCase>;

TEST_P(MoeAuxLossConformance, ForwardAndBackward) {
  const MoeAuxLossCase& c = test_case();
  ConformanceContext& ctx = context();
  const int64_t rows = c.batch * c.seq;
  // Scores as the router makes them: softmax rows of random logits.
  Tensor score_values = Tensor::empty({rows, c.experts}, DType::f64);
  std::uniform_real_distribution<double> uniform(-2.0, 2.0);
  for (int64_t n = 0; n < rows; ++n) {
    double* row = score_values.data<double>() + n * c.experts;
    double total = 0;
    for (int64_t e = 0; e < c.experts; ++e) total += row[e] = std::exp(uniform(ctx.rng()));
    for (int64_t e = 0; e < c.experts; ++e) row[e] /= total;
  }
  Operand scores = ctx.from_values(score_values, Role::statistic);
  std::vector<int32_t> all_experts(static_cast<size_t>(c.experts));
  std::iota(all_experts.begin(), all_experts.end(), 0);
  Operand topk_index = ctx.indices(distinct_experts(rows, c.top_k, all_experts, ctx.rng()));

  // The forward adds into aux: both start from the same value (another layer's loss).
  Operand aux = ctx.scalars({1}, {0.125});
  ctx.reference().moe_aux_loss_forward(scores.reference, topk_index.reference, c.batch, c.seq_aux, c.alpha,
                                       aux.reference);
  ctx.under_test().moe_aux_loss_forward(scores.under_test, topk_index.under_test, c.batch, c.seq_aux, c.alpha,
                                        aux.under_test);
  ctx.expect_close(ctx.result(aux).data<double>()[0] - 0.125, aux.reference.data<double>()[0] - 0.125,
                   c.tolerance, "aux loss");

  Operand d_aux = ctx.scalars({1}, {1.3});
  Operand d_scores = ctx.random({rows, c.experts}, Role::statistic);
  ctx.reference().moe_aux_loss_backward(topk_index.reference, c.batch, c.seq_aux, c.alpha, d_aux.reference,
                                        d_scores.reference);
  ctx.under_test().moe_aux_loss_backward(topk_index.under_test, c.batch, c.seq_aux, c.alpha, d_aux.under_test,
                                         d_scores.under_test);
  ctx.expect_close(d_scores, c.tolerance, "d_scores");
}

INSTANTIATE_TEST_SUITE_P(Backends, MoeAuxLossConformance, on_every_backend(kMoeAuxLossCases),
                         conformance_test_name<MoeAuxLossCase>);

// ---- moe plan, gather, combine ------------------------------------------------------------------------

using MoeDispatchConformance = OpConformance<MoeDispatchCase>;

TEST_P(MoeDispatchConformance, PlanGatherCombineAndBackward) {
  const MoeDispatchCase& c = test_case();
  ConformanceContext& ctx = context();
  const int64_t slots = c.rows * c.top_k;
  Operand topk_index = ctx.indices(distinct_experts(c.rows, c.top_k, c.used_experts, ctx.rng()));
  Operand expert_offsets = ctx.indices(Tensor::zeros({c.experts + 1}, DType::i32));
  Operand slot_of = ctx.indices(Tensor::zeros({c.rows, c.top_k}, DType::i32));
  ctx.reference().moe_plan(topk_index.reference, c.experts, expert_offsets.reference, slot_of.reference);
  ctx.under_test().moe_plan(topk_index.under_test, c.experts, expert_offsets.under_test, slot_of.under_test);
  ctx.expect_same_indices(expert_offsets, "expert_offsets");
  ctx.expect_same_indices(slot_of, "slot_of");
  ASSERT_FALSE(::testing::Test::HasFailure()) << "the gather and combine below follow the plan";

  Operand x = ctx.random({c.rows, c.hidden}), sorted = ctx.random({slots, c.hidden});
  ctx.reference().moe_gather(x.reference, slot_of.reference, sorted.reference);
  ctx.under_test().moe_gather(x.under_test, slot_of.under_test, sorted.under_test);
  ctx.expect_close(sorted, c.tolerance, "sorted");

  Operand d_sorted = ctx.random({slots, c.hidden}), d_x = ctx.random({c.rows, c.hidden});
  ctx.reference().moe_gather_backward(d_sorted.reference, slot_of.reference, d_x.reference);
  ctx.under_test().moe_gather_backward(d_sorted.under_test, slot_of.under_test, d_x.under_test);
  ctx.expect_close(d_x, c.tolerance, "d_x");

  Operand expert_out = ctx.random({slots, c.hidden}),
          topk_weight = ctx.random({c.rows, c.top_k}, Role::statistic);
  Operand y = ctx.random({c.rows, c.hidden});
  ctx.reference().moe_combine_forward(expert_out.reference, topk_weight.reference, slot_of.reference,
                                      y.reference);
  ctx.under_test().moe_combine_forward(expert_out.under_test, topk_weight.under_test, slot_of.under_test,
                                       y.under_test);
  ctx.expect_close(y, c.tolerance, "y");

  Operand d_y = ctx.random({c.rows, c.hidden});
  Operand d_expert_out = ctx.random({slots, c.hidden});
  Operand d_topk_weight = ctx.random({c.rows, c.top_k}, Role::statistic);
  ctx.reference().moe_combine_backward(d_y.reference, expert_out.reference, topk_weight.reference,
                                       slot_of.reference, d_expert_out.reference, d_topk_weight.reference);
  ctx.under_test().moe_combine_backward(d_y.under_test, expert_out.under_test, topk_weight.under_test,
                                        slot_of.under_test, d_expert_out.under_test,
                                        d_topk_weight.under_test);
  ctx.expect_close(d_expert_out, c.tolerance, "d_expert_out");
  ctx.expect_close(d_topk_weight, c.tolerance, "d_topk_weight");
}

INSTANTIATE_TEST_SUITE_P(Backends, MoeDispatchConformance, on_every_backend(kMoeDispatchCases),
                         conformance_test_name<MoeDispatchCase>);

// ---- expert products ----------------------------------------------------------------------------------

using ExpertMatmulConformance = OpConformance<ExpertMatmulCase>;

TEST_P(ExpertMatmulConformance, ForwardAndBackward) {
  const ExpertMatmulCase& c = test_case();
  ConformanceContext& ctx = context();
  const int64_t experts = static_cast<int64_t>(c.rows_per_expert.size());
  Tensor offsets_values = Tensor::empty({experts + 1}, DType::i32);
  int32_t* offsets = offsets_values.data<int32_t>();
  offsets[0] = 0;
  for (int64_t e = 0; e < experts; ++e)
    offsets[e + 1] = offsets[e] + c.rows_per_expert[static_cast<size_t>(e)];
  const int64_t rows = offsets[experts] + c.extra_rows, stride = c.out * c.in + c.gap;
  Operand expert_offsets = ctx.indices(offsets_values);

  Operand x = ctx.random({rows, c.in}), block = ctx.random({experts * stride});
  auto weights = [&](const Tensor& t) { return ExpertWeights{t, {c.out, c.in}, stride, experts}; };
  // Rows past the plan start random on both sides and must stay as they were.
  Operand out = ctx.random({rows, c.out});
  ctx.reference().expert_matmul(x.reference, weights(block.reference), expert_offsets.reference,
                                out.reference);
  ctx.under_test().expert_matmul(x.under_test, weights(block.under_test), expert_offsets.under_test,
                                 out.under_test);
  ctx.expect_close(out, c.tolerance, "out");

  Operand d_out = ctx.random({rows, c.out}), d_x = ctx.random({rows, c.in});
  Operand d_block = ctx.random({experts * stride}, Role::statistic);  // accumulates: starts random
  ctx.reference().expert_matmul_backward(d_out.reference, x.reference, weights(block.reference),
                                         expert_offsets.reference, d_x.reference, weights(d_block.reference));
  ctx.under_test().expert_matmul_backward(d_out.under_test, x.under_test, weights(block.under_test),
                                          expert_offsets.under_test, d_x.under_test,
                                          weights(d_block.under_test));
  ctx.expect_close(d_x, c.tolerance, "d_x");
  ctx.expect_close(d_block, c.tolerance, "d_weights");
}

INSTANTIATE_TEST_SUITE_P(Backends, ExpertMatmulConformance, on_every_backend(kExpertMatmulCases),
                         conformance_test_name<ExpertMatmulCase>);

}  // namespace
}  // namespace minimind::conformance
