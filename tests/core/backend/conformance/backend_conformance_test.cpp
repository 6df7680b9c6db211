// Backend conformance: every op of the Backend interface, forward and backward, over the case tables of
// cases.h, on every backend of backends_under_test(). Reference: the same op on a CpuBackend in f64, fed the
// same inputs (rounded once to the compute dtype of the backend under test). Each side chains its own
// saved tensors (rstd, probs, logsumexp, scores, plans) from its forward into its backward.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/backend/conformance/cases.h"
#include "core/backend/conformance/conformance.h"

namespace minimind::conformance {
namespace {

// ---- matmul -------------------------------------------------------------------------------------------

using MatmulConformance = OpConformance<MatmulCase>;

TEST_P(MatmulConformance, MatchesF64Reference) {
  const MatmulCase& c = test_case();
  ConformanceContext& ctx = context();
  const Shape a_shape = c.transpose_a ? Shape{c.inner, c.rows} : Shape{c.rows, c.inner};
  const Shape b_shape = c.transpose_b ? Shape{c.cols, c.inner} : Shape{c.inner, c.cols};
  Operand a = ctx.random(a_shape), b = ctx.random(b_shape), out = ctx.random({c.rows, c.cols});
  ctx.reference().matmul(a.reference, c.transpose_a, b.reference, c.transpose_b, out.reference, c.accumulate);
  ctx.under_test().matmul(a.under_test, c.transpose_a, b.under_test, c.transpose_b, out.under_test,
                          c.accumulate);
  ctx.expect_close(out, c.tolerance, "out");
}

INSTANTIATE_TEST_SUITE_P(Backends, MatmulConformance, on_every_backend(kMatmulCases),
                         conformance_test_name<MatmulCase>);

// ---- embedding ----------------------------------------------------------------------------------------

using EmbeddingConformance = OpConformance<EmbeddingCase>;

TEST_P(EmbeddingConformance, ForwardAndBackward) {
  const EmbeddingCase& c = test_case();
  ConformanceContext& ctx = context();
  Operand ids = ctx.random_indices({c.rows}, static_cast<int32_t>(c.vocab));
  Operand table = ctx.random({c.vocab, c.hidden}), out = ctx.random({c.rows, c.hidden});
  ctx.reference().embedding_forward(ids.reference, table.reference, out.reference);
  ctx.under_test().embedding_forward(ids.under_test, table.under_test, out.under_test);
  ctx.expect_close(out, c.tolerance, "out");

  Operand d_out = ctx.random({c.rows, c.hidden}), d_table = ctx.random({c.vocab, c.hidden});
  ctx.reference().embedding_backward(ids.reference, d_out.reference, d_table.reference);
  ctx.under_test().embedding_backward(ids.under_test, d_out.under_test, d_table.under_test);
  ctx.expect_close(d_table, c.tolerance, "d_table");
}

INSTANTIATE_TEST_SUITE_P(Backends, EmbeddingConformance, on_every_backend(kEmbeddingCases),
                         conformance_test_name<EmbeddingCase>);

// ---- rmsnorm ------------------------------------------------------------------------------------------

using RmsnormConformance = OpConformance<RmsnormCase>;

TEST_P(RmsnormConformance, ForwardAndBackward) {
  const RmsnormCase& c = test_case();
  ConformanceContext& ctx = context();
  Operand x = ctx.random({c.rows, c.hidden}, c.input_scale), weight = ctx.random({c.hidden});
  Operand y = ctx.random({c.rows, c.hidden}), rstd = ctx.random({c.rows});
  ctx.reference().rmsnorm_forward(x.reference, weight.reference, c.eps, y.reference, rstd.reference);
  ctx.under_test().rmsnorm_forward(x.under_test, weight.under_test, c.eps, y.under_test, rstd.under_test);
  ctx.expect_close(y, c.tolerance, "y");
  ctx.expect_close(rstd, c.tolerance, "rstd");

  Operand d_y = ctx.random({c.rows, c.hidden});
  Operand d_x = ctx.random({c.rows, c.hidden}), d_weight = ctx.random({c.hidden});
  ctx.reference().rmsnorm_backward(d_y.reference, x.reference, weight.reference, rstd.reference,
                                   d_x.reference, d_weight.reference);
  ctx.under_test().rmsnorm_backward(d_y.under_test, x.under_test, weight.under_test, rstd.under_test,
                                    d_x.under_test, d_weight.under_test);
  ctx.expect_close(d_x, c.tolerance, "d_x");
  ctx.expect_close(d_weight, c.tolerance, "d_weight");
}

INSTANTIATE_TEST_SUITE_P(Backends, RmsnormConformance, on_every_backend(kRmsnormCases),
                         conformance_test_name<RmsnormCase>);

// ---- rope + qkv split ---------------------------------------------------------------------------------

// cos/sin [positions, head_dim] as the model builds them (theta 1e6): both halves of a row hold the angles of
// the head_dim / 2 rotated pairs.
void rope_tables(ConformanceContext& ctx, int64_t positions, int64_t head_dim, Operand& cos, Operand& sin) {
  Tensor cos_values = Tensor::empty({positions, head_dim}, DType::f64);
  Tensor sin_values = Tensor::empty({positions, head_dim}, DType::f64);
  const int64_t half = head_dim / 2;
  for (int64_t p = 0; p < positions; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(p) * std::pow(1e6, -2.0 * static_cast<double>(i) / head_dim);
      for (int64_t column : {i, i + half}) {
        cos_values.data<double>()[p * head_dim + column] = std::cos(angle);
        sin_values.data<double>()[p * head_dim + column] = std::sin(angle);
      }
    }
  cos = ctx.from_values(cos_values);
  sin = ctx.from_values(sin_values);
}

using RopeSplitConformance = OpConformance<RopeSplitCase>;

TEST_P(RopeSplitConformance, ForwardAndBackward) {
  const RopeSplitCase& c = test_case();
  ConformanceContext& ctx = context();
  const int64_t width = (c.q_heads + 2 * c.kv_heads) * c.head_dim;
  Operand cos, sin;
  rope_tables(ctx, c.kv_offset + c.cache_rows + 1, c.head_dim, cos, sin);
  Operand qkv = ctx.random({c.batch, c.seq, width}, 2.0);
  // k and v start from random rows: those outside kv_offset .. kv_offset + seq must come back untouched.
  Operand q = ctx.random({c.batch, c.seq, c.q_heads, c.head_dim});
  Operand k = ctx.random({c.batch, c.cache_rows, c.kv_heads, c.head_dim});
  Operand v = ctx.random({c.batch, c.cache_rows, c.kv_heads, c.head_dim});
  ctx.reference().rope_split_forward(qkv.reference, cos.reference, sin.reference, c.kv_offset, q.reference,
                                     k.reference, v.reference);
  ctx.under_test().rope_split_forward(qkv.under_test, cos.under_test, sin.under_test, c.kv_offset,
                                      q.under_test, k.under_test, v.under_test);
  ctx.expect_close(q, c.tolerance, "q");
  ctx.expect_close(k, c.tolerance, "k");
  ctx.expect_close(v, c.tolerance, "v");
  if (!c.training_shape()) return;

  Operand d_q = ctx.random({c.batch, c.seq, c.q_heads, c.head_dim});
  Operand d_k = ctx.random({c.batch, c.seq, c.kv_heads, c.head_dim});
  Operand d_v = ctx.random({c.batch, c.seq, c.kv_heads, c.head_dim});
  Operand d_qkv = ctx.random({c.batch, c.seq, width});
  ctx.reference().rope_split_backward(d_q.reference, d_k.reference, d_v.reference, cos.reference,
                                      sin.reference, d_qkv.reference);
  ctx.under_test().rope_split_backward(d_q.under_test, d_k.under_test, d_v.under_test, cos.under_test,
                                       sin.under_test, d_qkv.under_test);
  ctx.expect_close(d_qkv, c.tolerance, "d_qkv");
}

INSTANTIATE_TEST_SUITE_P(Backends, RopeSplitConformance, on_every_backend(kRopeSplitCases),
                         conformance_test_name<RopeSplitCase>);

// ---- attention ----------------------------------------------------------------------------------------

using AttentionConformance = OpConformance<AttentionCase>;

// Whether query row t of sequence b sees at least one key that is not padding. A row that sees only padding
// is not compared: the seed adds -1e9 to every score of it, which in f32 swallows the scores (a uniform
// softmax) and in f64 does not; its output is never used (its loss is masked) and must only stay finite.
std::vector<bool> rows_seeing_a_real_key(const AttentionCase& c) {
  std::vector<bool> sees(static_cast<size_t>(c.batch * c.seq), false);
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t t = 0; t < c.seq; ++t)
      for (int64_t s = 0; s < c.keys() && s <= c.query_offset + t; ++s)
        if (std::find(c.padded_keys.begin(), c.padded_keys.end(), std::pair{b, s}) == c.padded_keys.end())
          sees[b * c.seq + t] = true;
  return sees;
}

TEST_P(AttentionConformance, ForwardAndBackward) {
  const AttentionCase& c = test_case();
  ConformanceContext& ctx = context();
  const int64_t S_cap = c.rows(), S = c.keys(), T = c.seq, Hq = c.q_heads, D = c.head_dim;
  AttentionOptions options;
  options.num_keys = S;
  options.query_offset = c.query_offset;
  options.scale = 1.0 / std::sqrt(static_cast<double>(D));
  options.dropout = {c.dropout, 7};

  // q at twice the scale of k gives scores of a few units: softmax rows neither flat nor one-hot.
  Operand q = ctx.random({c.batch, T, Hq, D}, 2.0);
  Tensor k_values = Tensor::empty({c.batch, S_cap, c.kv_heads, D}, DType::f64);
  Tensor v_values = Tensor::empty(k_values.shape(), DType::f64);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  const int64_t row_width = c.kv_heads * D;
  for (int64_t i = 0; i < k_values.numel(); ++i) {
    const bool past_the_keys = (i / row_width) % S_cap >= S;  // cache rows not yet written
    k_values.data<double>()[i] =
        past_the_keys ? std::numeric_limits<double>::quiet_NaN() : uniform(ctx.rng());
    v_values.data<double>()[i] =
        past_the_keys ? std::numeric_limits<double>::quiet_NaN() : uniform(ctx.rng());
  }
  Operand k = ctx.from_values(k_values), v = ctx.from_values(v_values);
  Operand key_mask;
  if (!c.padded_keys.empty()) {
    Tensor mask = Tensor::empty({c.batch, S_cap}, DType::i32);
    for (int32_t& x : mask.span<int32_t>()) x = 1;
    for (const auto& [b, s] : c.padded_keys) mask.data<int32_t>()[b * S_cap + s] = 0;
    key_mask = ctx.indices(mask);
  }
  Operand out = ctx.random({c.batch, T, Hq, D}), probs = ctx.random({c.batch, Hq, T, S});
  ctx.reference().attention_forward(q.reference, k.reference, v.reference, key_mask.reference, options,
                                    out.reference, probs.reference);
  ctx.under_test().attention_forward(q.under_test, k.under_test, v.under_test, key_mask.under_test, options,
                                     out.under_test, probs.under_test);

  const std::vector<bool> sees = rows_seeing_a_real_key(c);
  const Tensor out_values = ctx.result(out);
  for (const double x : out_values.span<double>()) ASSERT_TRUE(std::isfinite(x)) << "out holds " << x;
  ctx.expect_close(out, c.tolerance, "out", [&](int64_t i) { return sees[i / (Hq * D)]; });
  // probs: only where key s is causally visible (the rest is unspecified), for rows that see a real key.
  ctx.expect_close(probs, c.tolerance, "probs", [&](int64_t i) {
    const int64_t s = i % S, t = (i / S) % T, b = i / (S * T * Hq);
    return s <= c.query_offset + t && sees[b * T + t];
  });
  if (!c.training_shape()) return;

  // The upstream gradient of a row that sees only padding is zero, as its masked loss makes it in training.
  Tensor d_out_values = Tensor::empty({c.batch, T, Hq, D}, DType::f64);
  for (int64_t i = 0; i < d_out_values.numel(); ++i)
    d_out_values.data<double>()[i] = sees[i / (Hq * D)] ? uniform(ctx.rng()) : 0.0;
  Operand d_out = ctx.from_values(d_out_values);
  Operand d_q = ctx.random(q.reference.shape()), d_k = ctx.random(k.reference.shape());
  Operand d_v = ctx.random(v.reference.shape());
  ctx.reference().attention_backward(d_out.reference, q.reference, k.reference, v.reference, probs.reference,
                                     options, d_q.reference, d_k.reference, d_v.reference);
  ctx.under_test().attention_backward(d_out.under_test, q.under_test, k.under_test, v.under_test,
                                      probs.under_test, options, d_q.under_test, d_k.under_test,
                                      d_v.under_test);
  ctx.expect_close(d_q, c.tolerance, "d_q");
  ctx.expect_close(d_k, c.tolerance, "d_k");
  ctx.expect_close(d_v, c.tolerance, "d_v");
}

INSTANTIATE_TEST_SUITE_P(Backends, AttentionConformance, on_every_backend(kAttentionCases),
                         conformance_test_name<AttentionCase>);

// ---- swiglu -------------------------------------------------------------------------------------------

using SwigluConformance = OpConformance<SwigluCase>;

TEST_P(SwigluConformance, ForwardAndBackward) {
  const SwigluCase& c = test_case();
  ConformanceContext& ctx = context();
  Tensor gate_up_values = Tensor::empty({c.rows, 2 * c.width}, DType::f64);
  std::uniform_real_distribution<double> gate(-c.gate_scale, c.gate_scale), up(-1.0, 1.0);
  for (int64_t n = 0; n < c.rows; ++n)
    for (int64_t i = 0; i < 2 * c.width; ++i)
      gate_up_values.data<double>()[n * 2 * c.width + i] = i < c.width ? gate(ctx.rng()) : up(ctx.rng());
  Operand gate_up = ctx.from_values(gate_up_values), out = ctx.random({c.rows, c.width});
  ctx.reference().swiglu_forward(gate_up.reference, out.reference);
  ctx.under_test().swiglu_forward(gate_up.under_test, out.under_test);
  ctx.expect_close(out, c.tolerance, "out");

  Operand d_out = ctx.random({c.rows, c.width}), d_gate_up = ctx.random({c.rows, 2 * c.width});
  ctx.reference().swiglu_backward(d_out.reference, gate_up.reference, d_gate_up.reference);
  ctx.under_test().swiglu_backward(d_out.under_test, gate_up.under_test, d_gate_up.under_test);
  ctx.expect_close(d_gate_up, c.tolerance, "d_gate_up");
}

INSTANTIATE_TEST_SUITE_P(Backends, SwigluConformance, on_every_backend(kSwigluCases),
                         conformance_test_name<SwigluCase>);

// ---- cross entropy ------------------------------------------------------------------------------------

using CrossEntropyConformance = OpConformance<CrossEntropyCase>;

TEST_P(CrossEntropyConformance, ForwardAndBackward) {
  const CrossEntropyCase& c = test_case();
  ConformanceContext& ctx = context();
  Operand logits = ctx.random({c.rows, c.vocab}, c.logit_scale);
  Operand targets = ctx.random_indices({c.rows}, static_cast<int32_t>(c.vocab));
  Operand losses = ctx.random({c.rows}), logsumexp = ctx.random({c.rows});
  ctx.reference().cross_entropy_forward(logits.reference, targets.reference, losses.reference,
                                        logsumexp.reference);
  ctx.under_test().cross_entropy_forward(logits.under_test, targets.under_test, losses.under_test,
                                         logsumexp.under_test);
  ctx.expect_close(losses, c.tolerance, "losses");
  ctx.expect_close(logsumexp, c.tolerance, "logsumexp");

  Tensor d_losses_values = Tensor::empty({c.rows}, DType::f64);
  std::uniform_real_distribution<double> uniform(0.1, 1.0);
  for (int64_t n = 0; n < c.rows; ++n)
    d_losses_values.data<double>()[n] = n < c.masked_rows ? 0.0 : uniform(ctx.rng());
  Operand d_losses = ctx.from_values(d_losses_values);
  Operand d_logits = c.in_place ? logits : ctx.random({c.rows, c.vocab});
  ctx.reference().cross_entropy_backward(logits.reference, targets.reference, logsumexp.reference,
                                         d_losses.reference, d_logits.reference);
  ctx.under_test().cross_entropy_backward(logits.under_test, targets.under_test, logsumexp.under_test,
                                          d_losses.under_test, d_logits.under_test);
  ctx.expect_close(d_logits, c.tolerance, "d_logits");
}

INSTANTIATE_TEST_SUITE_P(Backends, CrossEntropyConformance, on_every_backend(kCrossEntropyCases),
                         conformance_test_name<CrossEntropyCase>);

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
    logits = ctx.from_values(values);
  } else {
    logits = ctx.random({c.rows, c.experts}, 2.0);
  }
  Operand scores = ctx.random({c.rows, c.experts}), topk_weight = ctx.random({c.rows, c.top_k});
  Tensor no_index = Tensor::zeros({c.rows, c.top_k}, DType::i32);
  Operand topk_index = ctx.indices(no_index);
  ctx.reference().moe_router_forward(logits.reference, c.normalize, scores.reference, topk_index.reference,
                                     topk_weight.reference);
  ctx.under_test().moe_router_forward(logits.under_test, c.normalize, scores.under_test,
                                      topk_index.under_test, topk_weight.under_test);
  ctx.expect_close(scores, c.tolerance, "scores");
  ctx.expect_same_indices(topk_index, "topk_index");
  ctx.expect_close(topk_weight, c.tolerance, "topk_weight");

  Operand d_topk_weight = ctx.random({c.rows, c.top_k});
  Operand d_scores = c.with_d_scores ? ctx.random({c.rows, c.experts}) : Operand{};
  Operand d_logits = ctx.random({c.rows, c.experts});
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
  Operand scores = ctx.from_values(score_values);
  std::vector<int32_t> all_experts(static_cast<size_t>(c.experts));
  std::iota(all_experts.begin(), all_experts.end(), 0);
  Operand topk_index = ctx.indices(distinct_experts(rows, c.top_k, all_experts, ctx.rng()));

  const double aux_reference = ctx.reference().moe_aux_loss_forward(scores.reference, topk_index.reference,
                                                                    c.batch, c.seq_aux, c.alpha);
  const double aux_under_test = ctx.under_test().moe_aux_loss_forward(
      scores.under_test, topk_index.under_test, c.batch, c.seq_aux, c.alpha);
  ctx.expect_close(aux_under_test, aux_reference, c.tolerance, "aux loss");

  constexpr double kDAux = 1.3;
  Operand d_scores = ctx.random({rows, c.experts});
  ctx.reference().moe_aux_loss_backward(topk_index.reference, c.batch, c.seq_aux, c.alpha, kDAux,
                                        d_scores.reference);
  ctx.under_test().moe_aux_loss_backward(topk_index.under_test, c.batch, c.seq_aux, c.alpha, kDAux,
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

  Operand expert_out = ctx.random({slots, c.hidden}), topk_weight = ctx.random({c.rows, c.top_k});
  Operand y = ctx.random({c.rows, c.hidden});
  ctx.reference().moe_combine_forward(expert_out.reference, topk_weight.reference, slot_of.reference,
                                      y.reference);
  ctx.under_test().moe_combine_forward(expert_out.under_test, topk_weight.under_test, slot_of.under_test,
                                       y.under_test);
  ctx.expect_close(y, c.tolerance, "y");

  Operand d_y = ctx.random({c.rows, c.hidden});
  Operand d_expert_out = ctx.random({slots, c.hidden}), d_topk_weight = ctx.random({c.rows, c.top_k});
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

// ---- adamw --------------------------------------------------------------------------------------------

using AdamwConformance = OpConformance<AdamwCase>;

TEST_P(AdamwConformance, Step) {
  const AdamwCase& c = test_case();
  ConformanceContext& ctx = context();
  Operand params = ctx.random({c.size}), grads = ctx.random({c.size});
  // A previous step's state (none at step 1); v is a running mean of squares, so never negative.
  Tensor m_values = Tensor::zeros({c.size}, DType::f64), v_values = Tensor::zeros({c.size}, DType::f64);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  if (c.step > 1)
    for (int64_t i = 0; i < c.size; ++i) {
      m_values.data<double>()[i] = 0.1 * uniform(ctx.rng());
      v_values.data<double>()[i] = 0.01 * std::pow(uniform(ctx.rng()), 2);
    }
  Operand m = ctx.from_values(m_values), v = ctx.from_values(v_values);
  AdamWOptions options;
  options.learning_rate = c.learning_rate;
  options.weight_decay = c.weight_decay;
  options.step = c.step;
  ctx.reference().adamw_step(params.reference, grads.reference, m.reference, v.reference, options);
  ctx.under_test().adamw_step(params.under_test, grads.under_test, m.under_test, v.under_test, options);
  ctx.expect_close(params, c.tolerance, "params");
  ctx.expect_close(m, c.tolerance, "m");
  ctx.expect_close(v, c.tolerance, "v");
}

INSTANTIATE_TEST_SUITE_P(Backends, AdamwConformance, on_every_backend(kAdamwCases),
                         conformance_test_name<AdamwCase>);

// ---- add, scale, sum_squares, dropout ----------------------------------------------------------------

using ElementwiseConformance = OpConformance<ElementwiseCase>;

TEST_P(ElementwiseConformance, Add) {
  const ElementwiseCase& c = test_case();
  ConformanceContext& ctx = context();
  Operand y = ctx.random({c.size}), x = ctx.random({c.size});
  ctx.reference().add(y.reference, x.reference);
  ctx.under_test().add(y.under_test, x.under_test);
  ctx.expect_close(y, c.tolerance, "y");
}

TEST_P(ElementwiseConformance, Scale) {
  const ElementwiseCase& c = test_case();
  ConformanceContext& ctx = context();
  Operand y = ctx.random({c.size});
  ctx.reference().scale(y.reference, c.factor);
  ctx.under_test().scale(y.under_test, c.factor);
  ctx.expect_close(y, c.tolerance, "y");
}

TEST_P(ElementwiseConformance, SumSquares) {
  const ElementwiseCase& c = test_case();
  ConformanceContext& ctx = context();
  Operand x = ctx.random({c.size});
  ctx.expect_close(ctx.under_test().sum_squares(x.under_test), ctx.reference().sum_squares(x.reference),
                   c.tolerance, "sum of squares");
}

TEST_P(ElementwiseConformance, Dropout) {
  const ElementwiseCase& c = test_case();
  ConformanceContext& ctx = context();
  Operand x = ctx.random({c.size});
  const Dropout dropout{c.dropout, 11};
  ctx.reference().dropout(x.reference, dropout);
  ctx.under_test().dropout(x.under_test, dropout);
  ctx.expect_close(x, c.tolerance, "x");
}

INSTANTIATE_TEST_SUITE_P(Backends, ElementwiseConformance, on_every_backend(kElementwiseCases),
                         conformance_test_name<ElementwiseCase>);

}  // namespace
}  // namespace minimind::conformance
