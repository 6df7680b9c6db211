// Backend conformance, the dense ops: matmul, embedding, rmsnorm, rope, attention, swiglu, cross entropy,
// the masked loss, the elementwise ops and copy, forward and backward, over the case tables of cases.h, on
// every backend of backends_under_test() (the MoE ops and the optimizer step have their own files).
// Reference: the same op on a CpuBackend in f64, fed the same inputs (rounded once to the dtype of each
// operand's role on the backend under test); copy's reference is tensor/convert.h. Each side chains its own
// saved tensors (rstd, lse, out, logsumexp, totals) from its forward into its backward.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
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
  Operand a = ctx.random(a_shape), b = ctx.random(b_shape);
  Operand out = ctx.random({c.rows, c.cols}, c.wide_out ? Role::statistic : Role::compute);
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

  Operand d_out = ctx.random({c.rows, c.hidden}), d_table = ctx.random({c.vocab, c.hidden}, Role::statistic);
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
  Operand y = ctx.random({c.rows, c.hidden}), rstd = ctx.random({c.rows}, Role::statistic);
  ctx.reference().rmsnorm_forward(x.reference, weight.reference, c.eps, y.reference, rstd.reference);
  ctx.under_test().rmsnorm_forward(x.under_test, weight.under_test, c.eps, y.under_test, rstd.under_test);
  ctx.expect_close(y, c.tolerance, "y");
  ctx.expect_close(rstd, c.tolerance, "rstd");

  Operand d_y = ctx.random({c.rows, c.hidden});
  Operand d_x = ctx.random({c.rows, c.hidden}), d_weight = ctx.random({c.hidden}, Role::statistic);
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

// cos/sin [positions, head_dim] as the model builds them (theta 1e6, statistic dtype): both halves of a row
// hold the angles of the head_dim / 2 rotated pairs.
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
  cos = ctx.from_values(cos_values, Role::statistic);
  sin = ctx.from_values(sin_values, Role::statistic);
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

TEST_P(AttentionConformance, ForwardProbsAndBackward) {
  const AttentionCase& c = test_case();
  ConformanceContext& ctx = context();
  const int64_t S_cap = c.rows(), S = c.keys(), T = c.seq, Hq = c.q_heads, D = c.head_dim;
  AttentionOptions options;
  options.num_keys = S;
  options.query_offset = c.query_offset;
  options.scale = 1.0 / std::sqrt(static_cast<double>(D));
  // Each side reads the step's seed from its own device.
  const Operand seed = ctx.step_seed(0x9E3779B9u, 0x7F4A7C15u);
  AttentionOptions reference_options = options, options_under_test = options;
  reference_options.dropout = {c.dropout, seed.reference, 7};
  options_under_test.dropout = {c.dropout, seed.under_test, 7};

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
  Operand out = ctx.random({c.batch, T, Hq, D}), lse = ctx.random({c.batch, Hq, T}, Role::statistic);
  ctx.reference().attention_forward(q.reference, k.reference, v.reference, key_mask.reference,
                                    reference_options, out.reference, lse.reference);
  ctx.under_test().attention_forward(q.under_test, k.under_test, v.under_test, key_mask.under_test,
                                     options_under_test, out.under_test, lse.under_test);

  const std::vector<bool> sees = rows_seeing_a_real_key(c);
  for (const double x : ctx.result(out).span<double>()) ASSERT_TRUE(std::isfinite(x)) << "out holds " << x;
  for (const double x : ctx.result(lse).span<double>()) ASSERT_TRUE(std::isfinite(x)) << "lse holds " << x;
  ctx.expect_close(out, c.tolerance, "out", [&](int64_t i) { return sees[i / (Hq * D)]; });
  // lse [B, Hq, T]: row (b, t) of head h.
  ctx.expect_close(lse, c.tolerance, "lse", [&](int64_t i) { return sees[(i / (Hq * T)) * T + i % T]; });

  // The probe's probabilities: every entry, zero exactly where key s is not causally visible.
  Operand probs = ctx.random({c.batch, Hq, T, S}, Role::statistic);
  ctx.reference().attention_probs(q.reference, k.reference, v.reference, key_mask.reference,
                                  reference_options, probs.reference);
  ctx.under_test().attention_probs(q.under_test, k.under_test, v.under_test, key_mask.under_test,
                                   options_under_test, probs.under_test);
  ctx.expect_close(probs, c.tolerance, "probs", [&](int64_t i) {
    const int64_t t = (i / S) % T, b = i / (S * T * Hq);
    return sees[b * T + t];
  });
  const Tensor probs_values = ctx.result(probs);
  int64_t nonzero_past_the_limit = 0;
  for (int64_t i = 0; i < probs_values.numel(); ++i)
    if (i % S > c.query_offset + (i / S) % T && probs_values.data<double>()[i] != 0.0)
      ++nonzero_past_the_limit;
  EXPECT_EQ(nonzero_past_the_limit, 0) << "probs past the causal limit must be zero";
  if (!c.training_shape()) return;

  // The upstream gradient of a row that sees only padding is zero, as its masked loss makes it in training.
  Tensor d_out_values = Tensor::empty({c.batch, T, Hq, D}, DType::f64);
  for (int64_t i = 0; i < d_out_values.numel(); ++i)
    d_out_values.data<double>()[i] = sees[i / (Hq * D)] ? uniform(ctx.rng()) : 0.0;
  Operand d_out = ctx.from_values(d_out_values);
  Operand d_q = ctx.random(q.reference.shape()), d_k = ctx.random(k.reference.shape());
  Operand d_v = ctx.random(v.reference.shape());
  // Each side's backward reads its own forward's out and lse.
  ctx.reference().attention_backward(d_out.reference, q.reference, k.reference, v.reference, out.reference,
                                     lse.reference, key_mask.reference, reference_options, d_q.reference,
                                     d_k.reference, d_v.reference);
  ctx.under_test().attention_backward(d_out.under_test, q.under_test, k.under_test, v.under_test,
                                      out.under_test, lse.under_test, key_mask.under_test, options_under_test,
                                      d_q.under_test, d_k.under_test, d_v.under_test);
  ctx.expect_close(d_v, c.tolerance, "d_v");
  // dS = P (dP - D) cancels where a row sees a single key (T = 1: P = 1 passes no gradient), leaving d_q and
  // d_k at rounding noise around zero on both sides. Measured against themselves that noise would fail any
  // tolerance, so a reference that cancels is measured against the size of the terms that cancel, d_v's.
  auto max_abs = [](const Tensor& t) {
    double m = 0;
    for (const double x : t.span<double>()) m = std::max(m, std::abs(x));
    return m;
  };
  const double d_v_scale = max_abs(d_v.reference);
  auto floor_if_cancelled = [&](const Operand& g) {
    return max_abs(g.reference) < 1e-9 * d_v_scale ? d_v_scale : 0.0;
  };
  ctx.expect_close(d_q, c.tolerance, "d_q", {}, floor_if_cancelled(d_q));
  ctx.expect_close(d_k, c.tolerance, "d_k", {}, floor_if_cancelled(d_k));
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
  Operand losses = ctx.random({c.rows}, Role::statistic), logsumexp = ctx.random({c.rows}, Role::statistic);
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
  Operand d_losses = ctx.from_values(d_losses_values, Role::statistic);
  Operand d_logits = c.in_place ? logits : ctx.random({c.rows, c.vocab});
  ctx.reference().cross_entropy_backward(logits.reference, targets.reference, logsumexp.reference,
                                         d_losses.reference, d_logits.reference);
  ctx.under_test().cross_entropy_backward(logits.under_test, targets.under_test, logsumexp.under_test,
                                          d_losses.under_test, d_logits.under_test);
  ctx.expect_close(d_logits, c.tolerance, "d_logits");
}

INSTANTIATE_TEST_SUITE_P(Backends, CrossEntropyConformance, on_every_backend(kCrossEntropyCases),
                         conformance_test_name<CrossEntropyCase>);

// ---- masked loss ----------------------------------------------------------------------------------------

using MaskedLossConformance = OpConformance<MaskedLossCase>;

TEST_P(MaskedLossConformance, TotalsAndBackward) {
  const MaskedLossCase& c = test_case();
  ConformanceContext& ctx = context();
  Operand losses = ctx.random({c.rows}, Role::statistic, 3.0);
  Operand loss_mask;
  if (c.with_mask) {
    Tensor mask = Tensor::empty({c.rows}, DType::f64);
    for (int64_t n = 0; n < c.rows; ++n) mask.data<double>()[n] = n < c.masked ? 0.0 : 1.0;
    loss_mask = ctx.from_values(mask, Role::statistic);
  }
  // The aux slot belongs to the model: both sides must leave it.
  Operand totals = ctx.scalars({kLossTotalsSize}, {-1.0, -1.0, 0.75});
  ctx.reference().masked_loss_totals(losses.reference, loss_mask.reference, totals.reference);
  ctx.under_test().masked_loss_totals(losses.under_test, loss_mask.under_test, totals.under_test);
  const Tensor values = ctx.result(totals);
  const char* names[] = {"weighted loss", "scored rows", "aux slot"};
  for (int64_t i = 0; i < kLossTotalsSize; ++i)
    ctx.expect_close(values.data<double>()[i], totals.reference.data<double>()[i], c.tolerance, names[i]);

  Operand scale = ctx.scalars({1}, {c.scale});
  Operand d_losses = ctx.random({c.rows}, Role::statistic);
  ctx.reference().masked_loss_backward(loss_mask.reference, totals.reference, scale.reference,
                                       d_losses.reference);
  ctx.under_test().masked_loss_backward(loss_mask.under_test, totals.under_test, scale.under_test,
                                        d_losses.under_test);
  ctx.expect_close(d_losses, c.tolerance, "d_losses");
}

INSTANTIATE_TEST_SUITE_P(Backends, MaskedLossConformance, on_every_backend(kMaskedLossCases),
                         conformance_test_name<MaskedLossCase>);

// ---- copy ---------------------------------------------------------------------------------------------

using CopyConformance = OpConformance<CopyCase>;

// Host f64 -> compute -> statistic -> compute -> host f64, and a statistic holding more bits than the
// compute dtype narrowed on the device; each step against convert_dtype on the host. Exact ties of bf16
// rounding lead the values.
TEST_P(CopyConformance, ConvertsBetweenRolesAndTheHost) {
  const CopyCase& c = test_case();
  ConformanceContext& ctx = context();
  Backend& device = ctx.under_test();
  Tensor values = Tensor::empty({c.size}, DType::f64);
  std::uniform_real_distribution<double> uniform(-3.0, 3.0);
  const double ties[] = {1.0 + 0x1p-8, 1.0 + 3 * 0x1p-8, -(1.0 + 0x1p-8 + 0x1p-40), 0x1p-126, -0.0};
  for (int64_t i = 0; i < c.size; ++i) values.data<double>()[i] = i < 5 ? ties[i] : uniform(ctx.rng());
  const DType compute = ctx.dtype(Role::compute), statistic = ctx.dtype(Role::statistic);

  // A device tensor checked against the expected values (f64 on the host), exactly when the case says 0.
  auto expect_holds = [&](const Tensor& on_device, const Tensor& expected, const std::string& what) {
    Operand operand{convert_dtype(expected, DType::f64), on_device};
    ctx.expect_close(operand, c.tolerance, what);
  };
  Tensor in_compute = device.empty({c.size}, compute);
  device.copy(values, in_compute);
  const Tensor expected_compute = convert_dtype(values, compute);
  expect_holds(in_compute, expected_compute, "host f64 into the compute dtype");

  Tensor in_statistic = device.empty({c.size}, statistic);
  device.copy(in_compute, in_statistic);
  expect_holds(in_statistic, convert_dtype(expected_compute, statistic), "compute into statistic");

  Tensor back = device.empty({c.size}, compute);
  device.copy(in_statistic, back);
  expect_holds(back, expected_compute, "statistic back into compute");

  Tensor wide = device.empty({c.size}, statistic), narrowed = device.empty({c.size}, compute);
  device.copy(values, wide);
  device.copy(wide, narrowed);
  expect_holds(narrowed, convert_dtype(convert_dtype(values, statistic), compute),
               "statistic narrowed on the device");

  Tensor host = Tensor::empty({c.size}, DType::f64);
  device.copy(back, host);
  expect_holds(host, expected_compute, "compute onto the host in f64");
}

INSTANTIATE_TEST_SUITE_P(Backends, CopyConformance, on_every_backend(kCopyCases),
                         conformance_test_name<CopyCase>);

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
  Operand out = ctx.scalars({1}, {-1.0});  // overwritten
  ctx.reference().sum_squares(x.reference, out.reference);
  ctx.under_test().sum_squares(x.under_test, out.under_test);
  ctx.expect_close(out, c.tolerance, "sum of squares");
}

TEST_P(ElementwiseConformance, Dropout) {
  const ElementwiseCase& c = test_case();
  ConformanceContext& ctx = context();
  Operand x = ctx.random({c.size});
  const Operand seed = ctx.step_seed(11, 0xFFFFFFFFu);
  ctx.reference().dropout(x.reference, {c.dropout, seed.reference, 5});
  ctx.under_test().dropout(x.under_test, {c.dropout, seed.under_test, 5});
  ctx.expect_close(x, c.tolerance, "x");
}

INSTANTIATE_TEST_SUITE_P(Backends, ElementwiseConformance, on_every_backend(kElementwiseCases),
                         conformance_test_name<ElementwiseCase>);

}  // namespace
}  // namespace minimind::conformance
