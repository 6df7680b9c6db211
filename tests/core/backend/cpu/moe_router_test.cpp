// MoE router (reference: a softmax and a top-k written out in double here, hand-picked ties, and central
// finite differences in f64 for the backward; the logits are spread apart so that no perturbation changes
// the chosen experts).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "support/gradient_check.h"
#include "support/tensor_helpers.h"

namespace minimind {
namespace {

using testing::expect_gradient_near;
using testing::f64_tensor;
using testing::numeric_gradient;
using testing::random_tensor;
using testing::to_f32;
using testing::weighted_sum;

// Logits whose softmax scores differ by a clear margin within each row: a shuffled ladder 0, 0.5, 1, ...
// plus jitter far below the rung spacing (and far above the finite-difference step).
Tensor separated_logits(int64_t rows, int64_t experts, std::mt19937_64& rng) {
  Tensor t = Tensor::empty({rows, experts}, DType::f64);
  std::vector<int> rung(static_cast<size_t>(experts));
  std::uniform_real_distribution<double> jitter(-0.1, 0.1);
  for (int64_t n = 0; n < rows; ++n) {
    std::iota(rung.begin(), rung.end(), 0);
    std::shuffle(rung.begin(), rung.end(), rng);
    for (int64_t e = 0; e < experts; ++e) t.data<double>()[n * experts + e] = 0.5 * rung[e] + jitter(rng);
  }
  return t;
}

struct RouterOutputs {
  Tensor scores, topk_index, topk_weight;
};

RouterOutputs route(CpuBackend& backend, const Tensor& logits, int64_t k, bool normalize) {
  const int64_t rows = logits.dim(0), experts = logits.dim(1);
  RouterOutputs out{Tensor::empty({rows, experts}, logits.dtype()), Tensor::empty({rows, k}, DType::i32),
                    Tensor::empty({rows, k}, logits.dtype())};
  backend.moe_router_forward(logits, normalize, out.scores, out.topk_index, out.topk_weight);
  return out;
}

TEST(MoeRouter, ForwardMatchesSoftmaxAndTopKWrittenOut) {
  CpuBackend backend;
  std::mt19937_64 rng(11);
  const int64_t rows = 7, experts = 6, k = 3;
  Tensor logits = random_tensor({rows, experts}, DType::f64, rng, 3.0);
  for (bool normalize : {false, true}) {
    RouterOutputs out = route(backend, logits, k, normalize);
    for (int64_t n = 0; n < rows; ++n) {
      const double* row = logits.data<double>() + n * experts;
      std::vector<double> expected(static_cast<size_t>(experts));
      double sum = 0;
      for (int64_t e = 0; e < experts; ++e) sum += expected[e] = std::exp(row[e]);
      for (double& p : expected) p /= sum;
      for (int64_t e = 0; e < experts; ++e)
        EXPECT_NEAR(out.scores.data<double>()[n * experts + e], expected[e], 1e-15);

      std::vector<int> order(static_cast<size_t>(experts));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return expected[a] > expected[b]; });
      double chosen_sum = 0;
      for (int64_t j = 0; j < k; ++j) chosen_sum += expected[order[j]];
      for (int64_t j = 0; j < k; ++j) {
        EXPECT_EQ(out.topk_index.data<int32_t>()[n * k + j], order[j]) << "row " << n << " rank " << j;
        const double weight = normalize ? expected[order[j]] / (chosen_sum + 1e-20) : expected[order[j]];
        EXPECT_NEAR(out.topk_weight.data<double>()[n * k + j], weight, 1e-15);
      }
    }
  }
}

TEST(MoeRouter, TiesGoToTheLowerIndexInDescendingOrder) {
  CpuBackend backend;
  Tensor logits = f64_tensor({4, 5}, {1, 3,  3, 0, 3,     // three-way tie at the top
                                      2, 2,  2, 2, 2,     // all equal
                                      0, 1,  2, 3, 4,     // ascending
                                      5, -1, 5, 7, -1});  // best, then a tie
  RouterOutputs two = route(backend, logits, 2, false);
  EXPECT_EQ(
      std::vector<int32_t>(two.topk_index.span<int32_t>().begin(), two.topk_index.span<int32_t>().end()),
      (std::vector<int32_t>{1, 2, 0, 1, 4, 3, 3, 0}));
  RouterOutputs three = route(backend, logits, 3, false);
  EXPECT_EQ(
      std::vector<int32_t>(three.topk_index.span<int32_t>().begin(), three.topk_index.span<int32_t>().end()),
      (std::vector<int32_t>{1, 2, 4, 0, 1, 2, 4, 3, 2, 3, 0, 2}));
  // Weights follow the order of the indices, so they never increase along a row.
  for (int64_t n = 0; n < 4; ++n)
    for (int64_t j = 1; j < 3; ++j)
      EXPECT_GE(three.topk_weight.data<double>()[n * 3 + j - 1], three.topk_weight.data<double>()[n * 3 + j]);
}

TEST(MoeRouter, NormalizationAppliesOnlyForMoreThanOneExpert) {
  CpuBackend backend;
  Tensor logits = f64_tensor({1, 4}, {0.3, 1.2, -0.5, 0.9});
  RouterOutputs one = route(backend, logits, 1, true);
  EXPECT_EQ(one.topk_index.data<int32_t>()[0], 1);
  EXPECT_DOUBLE_EQ(one.topk_weight.data<double>()[0], one.scores.data<double>()[1]);  // not divided to 1
  RouterOutputs two = route(backend, logits, 2, true);
  EXPECT_NEAR(two.topk_weight.data<double>()[0] + two.topk_weight.data<double>()[1], 1.0, 1e-15);
}

// loss = sum(g_w * topk_weight) + sum(g_s * scores): its gradient is the router backward with
// d_topk_weight = g_w and d_scores = g_s.
void check_router_gradient(int64_t k, bool normalize, bool with_d_scores) {
  CpuBackend backend;
  std::mt19937_64 rng(100 + k * 4 + normalize * 2 + with_d_scores);
  const int64_t rows = 5, experts = 6;
  Tensor logits = separated_logits(rows, experts, rng);
  Tensor g_weight = random_tensor({rows, k}, DType::f64, rng);
  Tensor g_scores = with_d_scores ? random_tensor({rows, experts}, DType::f64, rng) : Tensor();
  const RouterOutputs reference = route(backend, logits, k, normalize);

  auto loss = [&] {
    RouterOutputs out = route(backend, logits, k, normalize);
    for (int64_t i = 0; i < out.topk_index.numel(); ++i)
      if (out.topk_index.data<int32_t>()[i] != reference.topk_index.data<int32_t>()[i])
        ADD_FAILURE() << "a perturbation changed the chosen experts";
    double value = weighted_sum(out.topk_weight, g_weight);
    if (with_d_scores) value += weighted_sum(out.scores, g_scores);
    return value;
  };
  const std::vector<double> numeric = numeric_gradient(logits, loss);

  Tensor d_logits = Tensor::empty({rows, experts}, DType::f64);
  std::fill_n(d_logits.data<double>(), d_logits.numel(), 123.0);  // overwritten, not accumulated
  backend.moe_router_backward(g_weight, g_scores, reference.scores, reference.topk_index, normalize,
                              d_logits);
  expect_gradient_near(d_logits, numeric, "d_logits", 1e-6, 1e-9);
}

TEST(MoeRouter, BackwardMatchesFiniteDifferences) {
  for (int64_t k : {1, 2, 3})
    for (bool normalize : {false, true})
      for (bool with_d_scores : {false, true}) {
        SCOPED_TRACE(::testing::Message()
                     << "k " << k << " normalize " << normalize << " d_scores " << with_d_scores);
        check_router_gradient(k, normalize, with_d_scores);
      }
}

TEST(MoeRouter, NormalizedWeightsOfAllExpertsPassOnlyTheScoreGradient) {
  // With K = E and normalization the weights are the scores divided by ~1, so a uniform g_w gives a
  // gradient of (almost exactly) zero: g - g.w = 0 per row.
  CpuBackend backend;
  std::mt19937_64 rng(5);
  Tensor logits = separated_logits(3, 4, rng);
  RouterOutputs out = route(backend, logits, 4, true);
  Tensor g_weight = f64_tensor({3, 4}, std::vector<double>(12, 0.75));
  Tensor d_logits = Tensor::empty({3, 4}, DType::f64);
  backend.moe_router_backward(g_weight, Tensor(), out.scores, out.topk_index, true, d_logits);
  for (double d : d_logits.span<double>()) EXPECT_NEAR(d, 0.0, 1e-15);
}

TEST(MoeRouter, FloatAgreesWithDouble) {
  CpuBackend backend;
  std::mt19937_64 rng(21);
  // Enough rows for the parallel loop.
  const int64_t rows = 2100, experts = 8, k = 2;
  Tensor logits = separated_logits(rows, experts, rng);
  Tensor g_weight = random_tensor({rows, k}, DType::f64, rng);
  Tensor g_scores = random_tensor({rows, experts}, DType::f64, rng);
  for (bool normalize : {false, true}) {
    RouterOutputs wide = route(backend, logits, k, normalize);
    RouterOutputs narrow = route(backend, to_f32(logits), k, normalize);
    Tensor d_wide = Tensor::empty({rows, experts}, DType::f64);
    Tensor d_narrow = Tensor::empty({rows, experts}, DType::f32);
    backend.moe_router_backward(g_weight, g_scores, wide.scores, wide.topk_index, normalize, d_wide);
    backend.moe_router_backward(to_f32(g_weight), to_f32(g_scores), narrow.scores, narrow.topk_index,
                                normalize, d_narrow);
    for (int64_t i = 0; i < rows * k; ++i) {
      ASSERT_EQ(narrow.topk_index.data<int32_t>()[i], wide.topk_index.data<int32_t>()[i]);
      EXPECT_NEAR(narrow.topk_weight.data<float>()[i], wide.topk_weight.data<double>()[i],
                  1e-5 * std::abs(wide.topk_weight.data<double>()[i]) + 1e-7);
    }
    double worst_score = 0, worst_gradient = 0;
    for (int64_t i = 0; i < rows * experts; ++i) {
      worst_score =
          std::max(worst_score, std::abs(narrow.scores.data<float>()[i] - wide.scores.data<double>()[i]));
      worst_gradient =
          std::max(worst_gradient, std::abs(d_narrow.data<float>()[i] - d_wide.data<double>()[i]));
    }
    EXPECT_LT(worst_score, 1e-6);     // scores lie in (0, 1)
    EXPECT_LT(worst_gradient, 1e-5);  // gradients are O(1)
  }
}

TEST(MoeRouter, RejectsBadArguments) {
  CpuBackend backend;
  Tensor logits = Tensor::zeros({3, 4}, DType::f32);
  Tensor scores = Tensor::empty({3, 4}, DType::f32);
  Tensor index = Tensor::empty({3, 2}, DType::i32);
  Tensor weight = Tensor::empty({3, 2}, DType::f32);
  EXPECT_NO_THROW(backend.moe_router_forward(logits, true, scores, index, weight));
  Tensor scores_f64 = Tensor::empty({3, 4}, DType::f64);
  EXPECT_THROW(backend.moe_router_forward(logits, true, scores_f64, index, weight), std::invalid_argument);
  Tensor scores_short = Tensor::empty({2, 4}, DType::f32);
  EXPECT_THROW(backend.moe_router_forward(logits, true, scores_short, index, weight), std::invalid_argument);
  Tensor index_f32 = Tensor::empty({3, 2}, DType::f32);
  EXPECT_THROW(backend.moe_router_forward(logits, true, scores, index_f32, weight), std::invalid_argument);
  Tensor index_too_many = Tensor::empty({3, 5}, DType::i32);
  Tensor weight_too_many = Tensor::empty({3, 5}, DType::f32);
  EXPECT_THROW(backend.moe_router_forward(logits, true, scores, index_too_many, weight_too_many),
               std::invalid_argument);
  Tensor weight_wide = Tensor::empty({3, 3}, DType::f32);
  EXPECT_THROW(backend.moe_router_forward(logits, true, scores, index, weight_wide), std::invalid_argument);
  Tensor logits_i32 = Tensor::zeros({3, 4}, DType::i32);
  EXPECT_THROW(backend.moe_router_forward(logits_i32, true, scores, index, weight), std::invalid_argument);

  Tensor d_weight = Tensor::zeros({3, 2}, DType::f32);
  Tensor d_logits = Tensor::empty({3, 4}, DType::f32);
  EXPECT_NO_THROW(backend.moe_router_backward(d_weight, Tensor(), scores, index, true, d_logits));
  Tensor d_scores_wrong = Tensor::zeros({3, 5}, DType::f32);
  EXPECT_THROW(backend.moe_router_backward(d_weight, d_scores_wrong, scores, index, true, d_logits),
               std::invalid_argument);
  Tensor d_weight_f64 = Tensor::zeros({3, 2}, DType::f64);
  EXPECT_THROW(backend.moe_router_backward(d_weight_f64, Tensor(), scores, index, true, d_logits),
               std::invalid_argument);
  Tensor d_logits_wrong = Tensor::empty({4, 3}, DType::f32);
  EXPECT_THROW(backend.moe_router_backward(d_weight, Tensor(), scores, index, true, d_logits_wrong),
               std::invalid_argument);
}

}  // namespace
}  // namespace minimind
