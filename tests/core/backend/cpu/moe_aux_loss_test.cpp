// MoE load-balancing loss (reference: a hand-computed example, the seed model's formula written out here
// with explicit loops over counts and means, and central finite differences in f64 for the backward with
// the chosen experts held fixed; the forward adds into its f64 scalar, the backward scales by d_aux[0]).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "support/gradient_check.h"
#include "support/tensor_helpers.h"

namespace minimind {
namespace {

using testing::expect_gradient_near;
using testing::expect_rejects;
using testing::f64_tensor;
using testing::i32_tensor;
using testing::numeric_gradient;
using testing::random_ids;
using testing::random_tensor;

// The seed model's loss, step by step as it is written there.
double reference_aux_loss(const Tensor& scores, const Tensor& topk_index, int64_t batch, bool seq_aux,
                          double alpha) {
  const int64_t rows = scores.dim(0), experts = scores.dim(1), k = topk_index.dim(1);
  const double* s = scores.data<double>();
  const int32_t* index = topk_index.data<int32_t>();
  if (seq_aux) {
    const int64_t length = rows / batch;
    double total = 0;
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<double> ce(static_cast<size_t>(experts), 0.0),
          mean_score(static_cast<size_t>(experts), 0.0);
      for (int64_t t = 0; t < length; ++t)
        for (int64_t j = 0; j < k; ++j) ce[index[(b * length + t) * k + j]] += 1.0;
      for (double& c : ce) c /= static_cast<double>(length * k) / static_cast<double>(experts);
      for (int64_t t = 0; t < length; ++t)
        for (int64_t e = 0; e < experts; ++e) mean_score[e] += s[(b * length + t) * experts + e] / length;
      for (int64_t e = 0; e < experts; ++e) total += ce[e] * mean_score[e];
    }
    return alpha * total / static_cast<double>(batch);
  }
  std::vector<double> ce(static_cast<size_t>(experts), 0.0), pi(static_cast<size_t>(experts), 0.0);
  for (int64_t i = 0; i < rows * k; ++i) ce[index[i]] += 1.0 / static_cast<double>(rows * k);
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t e = 0; e < experts; ++e) pi[e] += s[n * experts + e] / static_cast<double>(rows);
  double total = 0;
  for (int64_t e = 0; e < experts; ++e) total += pi[e] * (ce[e] * static_cast<double>(experts));
  return alpha * total;
}

// The forward into a fresh aux scalar, read back.
double aux_loss(Backend& backend, const Tensor& scores, const Tensor& topk_index, int64_t batch, bool seq_aux,
                double alpha) {
  Tensor aux = Tensor::zeros({1}, DType::f64);
  backend.moe_aux_loss_forward(scores, topk_index, batch, seq_aux, alpha, aux);
  return aux.data<double>()[0];
}

void aux_loss_backward(Backend& backend, const Tensor& topk_index, int64_t batch, bool seq_aux, double alpha,
                       double d_aux, Tensor& d_scores) {
  backend.moe_aux_loss_backward(topk_index, batch, seq_aux, alpha, f64_tensor({1}, {d_aux}), d_scores);
}

TEST(MoeAuxLoss, HandComputedExample) {
  CpuBackend backend;
  // Two sequences of two rows, two experts, one choice per row.
  Tensor scores = f64_tensor({4, 2}, {0.8, 0.2, 0.6, 0.4, 0.7, 0.3, 0.1, 0.9});
  Tensor topk = i32_tensor({4, 1}, {0, 0, 0, 1});
  // seq_aux: sequence 0 has ce = (2, 0), mean scores (0.7, 0.3) -> 1.4; sequence 1 has ce = (1, 1),
  // mean scores (0.4, 0.6) -> 1.0; the mean 1.2 times alpha 0.1.
  EXPECT_NEAR(aux_loss(backend, scores, topk, 2, true, 0.1), 0.12, 1e-15);
  // Global: fi = (3/4, 1/4) * 2 = (1.5, 0.5), Pi = (0.55, 0.45) -> 1.05 times alpha 0.1.
  EXPECT_NEAR(aux_loss(backend, scores, topk, 2, false, 0.1), 0.105, 1e-15);
  // d aux / d scores[n, e] = alpha * fi[e] / N in the global mode.
  Tensor d_scores = Tensor::empty({4, 2}, DType::f64);
  aux_loss_backward(backend, topk, 2, false, 0.1, 1.0, d_scores);
  for (int64_t n = 0; n < 4; ++n) {
    EXPECT_NEAR(d_scores.data<double>()[n * 2 + 0], 0.1 * 1.5 / 4, 1e-16);
    EXPECT_NEAR(d_scores.data<double>()[n * 2 + 1], 0.1 * 0.5 / 4, 1e-16);
  }
}

// The forward adds into aux (a step's layers sum into one scalar); the backward overwrites d_scores and
// reads its scale from d_aux[0].
TEST(MoeAuxLoss, ForwardAddsIntoAuxAndBackwardReadsTheScaleFromDAux) {
  CpuBackend backend;
  Tensor scores = f64_tensor({4, 2}, {0.8, 0.2, 0.6, 0.4, 0.7, 0.3, 0.1, 0.9});
  Tensor topk = i32_tensor({4, 1}, {0, 0, 0, 1});
  Tensor aux = f64_tensor({1}, {0.5});
  backend.moe_aux_loss_forward(scores, topk, 2, true, 0.1, aux);
  backend.moe_aux_loss_forward(scores, topk, 2, false, 0.1, aux);
  EXPECT_NEAR(aux.data<double>()[0], 0.5 + 0.12 + 0.105, 1e-15);
  Tensor d_scores = f64_tensor({4, 2}, {9, 9, 9, 9, 9, 9, 9, 9});
  backend.moe_aux_loss_backward(topk, 2, false, 0.1, f64_tensor({1}, {-2.0}), d_scores);
  for (int64_t n = 0; n < 4; ++n) {
    EXPECT_NEAR(d_scores.data<double>()[n * 2 + 0], -2.0 * 0.1 * 1.5 / 4, 1e-16);
    EXPECT_NEAR(d_scores.data<double>()[n * 2 + 1], -2.0 * 0.1 * 0.5 / 4, 1e-16);
  }
}

TEST(MoeAuxLoss, ForwardMatchesTheFormulaWrittenOut) {
  CpuBackend backend;
  std::mt19937_64 rng(3);
  const int64_t experts = 5, k = 2;
  for (int64_t batch : {1, 3, 4})
    for (bool seq_aux : {true, false}) {
      const int64_t rows = batch * 6;
      Tensor scores = random_tensor({rows, experts}, DType::f64, rng);
      Tensor topk = random_ids({rows, k}, experts, rng);
      const double expected = reference_aux_loss(scores, topk, batch, seq_aux, 0.01);
      EXPECT_NEAR(aux_loss(backend, scores, topk, batch, seq_aux, 0.01), expected,
                  1e-14 * std::max(1.0, std::abs(expected)))
          << "batch " << batch << " seq_aux " << seq_aux;
    }
}

TEST(MoeAuxLoss, ParallelForwardMatchesTheFormulaWrittenOut) {
  CpuBackend backend;
  std::mt19937_64 rng(4);
  const int64_t batch = 8, rows = batch * 600, experts = 8, k = 2;  // past the parallel threshold
  Tensor scores = random_tensor({rows, experts}, DType::f64, rng);
  Tensor topk = random_ids({rows, k}, experts, rng);
  for (bool seq_aux : {true, false}) {
    const double expected = reference_aux_loss(scores, topk, batch, seq_aux, 0.1);
    EXPECT_NEAR(aux_loss(backend, scores, topk, batch, seq_aux, 0.1), expected, 1e-13);
  }
}

TEST(MoeAuxLoss, BackwardMatchesFiniteDifferences) {
  CpuBackend backend;
  std::mt19937_64 rng(9);
  const int64_t batch = 3, rows = batch * 4, experts = 6, k = 2;
  const double alpha = 0.3, d_aux = -1.7;
  Tensor scores = random_tensor({rows, experts}, DType::f64, rng);
  Tensor topk = random_ids({rows, k}, experts, rng);
  for (bool seq_aux : {true, false}) {
    SCOPED_TRACE(seq_aux ? "seq_aux" : "global");
    const std::vector<double> numeric = numeric_gradient(
        scores, [&] { return d_aux * aux_loss(backend, scores, topk, batch, seq_aux, alpha); });
    Tensor d_scores = Tensor::empty({rows, experts}, DType::f64);
    std::fill_n(d_scores.data<double>(), d_scores.numel(), 99.0);  // overwritten
    aux_loss_backward(backend, topk, batch, seq_aux, alpha, d_aux, d_scores);
    expect_gradient_near(d_scores, numeric, "d_scores", 1e-6, 1e-10);
  }
}

TEST(MoeAuxLoss, FloatAgreesWithDouble) {
  CpuBackend backend;
  std::mt19937_64 rng(17);
  const int64_t batch = 4, rows = batch * 50, experts = 8, k = 2;
  Tensor scores = random_tensor({rows, experts}, DType::f64, rng);
  Tensor scores_f32 = Tensor::empty({rows, experts}, DType::f32);
  for (int64_t i = 0; i < scores.numel(); ++i)
    scores_f32.data<float>()[i] = static_cast<float>(scores.data<double>()[i]);
  Tensor topk = random_ids({rows, k}, experts, rng);
  for (bool seq_aux : {true, false}) {
    const double wide = aux_loss(backend, scores, topk, batch, seq_aux, 0.1);
    const double narrow = aux_loss(backend, scores_f32, topk, batch, seq_aux, 0.1);
    EXPECT_NEAR(narrow, wide, 1e-5 * std::abs(wide) + 1e-8);
    Tensor d_wide = Tensor::empty({rows, experts}, DType::f64);
    Tensor d_narrow = Tensor::empty({rows, experts}, DType::f32);
    aux_loss_backward(backend, topk, batch, seq_aux, 0.1, 2.0, d_wide);
    aux_loss_backward(backend, topk, batch, seq_aux, 0.1, 2.0, d_narrow);
    for (int64_t i = 0; i < rows * experts; ++i)
      EXPECT_NEAR(d_narrow.data<float>()[i], d_wide.data<double>()[i],
                  1e-6 * std::abs(d_wide.data<double>()[i]));
  }
}

TEST(MoeAuxLoss, RejectsBadArguments) {
  CpuBackend backend;
  Tensor scores = Tensor::zeros({6, 4}, DType::f32);
  Tensor topk = Tensor::zeros({6, 2}, DType::i32);
  Tensor d_scores = Tensor::empty({6, 4}, DType::f32);
  EXPECT_NO_THROW(aux_loss(backend, scores, topk, 3, true, 0.1));
  EXPECT_NO_THROW(aux_loss_backward(backend, topk, 2, false, 0.1, 1.0, d_scores));
  for (bool seq_aux : {true, false}) {
    EXPECT_THROW(aux_loss(backend, scores, topk, 4, seq_aux, 0.1), std::invalid_argument);
    EXPECT_THROW(aux_loss(backend, scores, topk, 0, seq_aux, 0.1), std::invalid_argument);
    EXPECT_THROW(aux_loss_backward(backend, topk, 4, seq_aux, 0.1, 1.0, d_scores), std::invalid_argument);
  }
  Tensor topk_short = Tensor::zeros({5, 2}, DType::i32);
  EXPECT_THROW(aux_loss(backend, scores, topk_short, 1, true, 0.1), std::invalid_argument);
  EXPECT_THROW(aux_loss_backward(backend, topk_short, 1, true, 0.1, 1.0, d_scores), std::invalid_argument);
  Tensor topk_f32 = Tensor::zeros({6, 2}, DType::f32);
  EXPECT_THROW(aux_loss(backend, scores, topk_f32, 1, true, 0.1), std::invalid_argument);
  Tensor scores_i32 = Tensor::zeros({6, 4}, DType::i32);
  EXPECT_THROW(aux_loss(backend, scores_i32, topk, 1, true, 0.1), std::invalid_argument);
  Tensor aux_f32 = Tensor::zeros({1}, DType::f32);
  expect_rejects([&] { backend.moe_aux_loss_forward(scores, topk, 3, true, 0.1, aux_f32); }, "aux");
  const Tensor d_aux_two = Tensor::zeros({2}, DType::f64);
  expect_rejects([&] { backend.moe_aux_loss_backward(topk, 3, true, 0.1, d_aux_two, d_scores); }, "d_aux");
}

}  // namespace
}  // namespace minimind
