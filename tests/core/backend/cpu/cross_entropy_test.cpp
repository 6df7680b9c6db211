// cross_entropy (references: the closed form log(sum exp(x)) - x[target] computed here in double, to 1e-12;
// finite differences in double of sum_n d_losses[n] losses[n] w.r.t. the logits, rtol 1e-6; f32 within
// 1e-5 of f64; the in-place backward equals the out-of-place one bit for bit).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "support/gradient_check.h"
#include "support/tensor_helpers.h"

namespace minimind {
namespace {

using testing::clone;
using testing::expect_gradient_near;
using testing::expect_rejects;
using testing::numeric_gradient;
using testing::random_ids;
using testing::random_tensor;
using testing::to_f32;
using testing::weighted_sum;

TEST(CpuCrossEntropy, ForwardMatchesClosedForm) {
  std::mt19937_64 rng(1);
  CpuBackend backend;
  const int64_t rows = 6, vocab_size = 11;
  const Tensor logits = random_tensor({rows, vocab_size}, DType::f64, rng, 4.0);
  const Tensor targets = random_ids({rows}, vocab_size, rng);
  Tensor losses = Tensor::empty({rows}, DType::f64), logsumexp = Tensor::empty({rows}, DType::f64);
  backend.cross_entropy_forward(logits, targets, losses, logsumexp);
  for (int64_t n = 0; n < rows; ++n) {
    double sum = 0;
    for (int64_t v = 0; v < vocab_size; ++v) sum += std::exp(logits.data<double>()[n * vocab_size + v]);
    const double expected_logsumexp = std::log(sum);
    const double expected_loss =
        expected_logsumexp - logits.data<double>()[n * vocab_size + targets.data<int32_t>()[n]];
    EXPECT_NEAR(logsumexp.data<double>()[n], expected_logsumexp, 1e-12 * std::abs(expected_logsumexp));
    EXPECT_NEAR(losses.data<double>()[n], expected_loss, 1e-12 * std::max(1.0, expected_loss));
    EXPECT_GT(losses.data<double>()[n], 0.0);
  }
}

// Logits far beyond exp's range: subtracting the row maximum keeps the result exact.
TEST(CpuCrossEntropy, LargeLogitsStayFinite) {
  CpuBackend backend;
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor logits = Tensor::empty({1, 3}, dtype);
    const double values[3] = {1000.0, 1000.0 + std::log(2.0), -1000.0};
    for (int i = 0; i < 3; ++i) {
      if (dtype == DType::f32) {
        logits.data<float>()[i] = static_cast<float>(values[i]);
      } else {
        logits.data<double>()[i] = values[i];
      }
    }
    Tensor targets = Tensor::empty({1}, DType::i32);
    targets.data<int32_t>()[0] = 0;
    Tensor losses = Tensor::empty({1}, dtype), logsumexp = Tensor::empty({1}, dtype);
    backend.cross_entropy_forward(logits, targets, losses, logsumexp);
    // p(target) = 1 / (1 + 2), so the loss is log(3).
    const double loss = dtype == DType::f32 ? losses.data<float>()[0] : losses.data<double>()[0];
    EXPECT_NEAR(loss, std::log(3.0), dtype == DType::f32 ? 1e-4 : 1e-12) << dtype_name(dtype);
  }
}

TEST(CpuCrossEntropy, ForwardAgreesBetweenF32AndF64) {
  std::mt19937_64 rng(2);
  CpuBackend backend;
  const int64_t rows = 48, vocab_size = 1000;  // the parallel path
  const Tensor logits = random_tensor({rows, vocab_size}, DType::f64, rng, 8.0);
  const Tensor targets = random_ids({rows}, vocab_size, rng);
  Tensor losses = Tensor::empty({rows}, DType::f64), logsumexp = Tensor::empty({rows}, DType::f64);
  Tensor losses_f32 = Tensor::empty({rows}, DType::f32), logsumexp_f32 = Tensor::empty({rows}, DType::f32);
  backend.cross_entropy_forward(logits, targets, losses, logsumexp);
  backend.cross_entropy_forward(to_f32(logits), targets, losses_f32, logsumexp_f32);
  for (int64_t n = 0; n < rows; ++n) {
    EXPECT_NEAR(losses_f32.data<float>()[n], losses.data<double>()[n],
                1e-5 * std::abs(losses.data<double>()[n]));
    EXPECT_NEAR(logsumexp_f32.data<float>()[n], logsumexp.data<double>()[n],
                1e-5 * std::abs(logsumexp.data<double>()[n]));
  }
}

TEST(CpuCrossEntropy, BackwardMatchesFiniteDifferencesAndOverwrites) {
  std::mt19937_64 rng(3);
  CpuBackend backend;
  const int64_t rows = 5, vocab_size = 9;
  Tensor logits = random_tensor({rows, vocab_size}, DType::f64, rng, 3.0);
  const Tensor targets = random_ids({rows}, vocab_size, rng);
  const Tensor d_losses = random_tensor({rows}, DType::f64, rng);
  Tensor losses = Tensor::empty({rows}, DType::f64), logsumexp = Tensor::empty({rows}, DType::f64);
  const auto loss = [&] {
    backend.cross_entropy_forward(logits, targets, losses, logsumexp);
    return weighted_sum(losses, d_losses);
  };
  const std::vector<double> numeric = numeric_gradient(logits, loss);
  backend.cross_entropy_forward(logits, targets, losses, logsumexp);
  Tensor d_logits = Tensor::empty({rows, vocab_size}, DType::f64);
  for (double& x : d_logits.span<double>()) x = std::numeric_limits<double>::quiet_NaN();
  backend.cross_entropy_backward(logits, targets, logsumexp, d_losses, d_logits);
  expect_gradient_near(d_logits, numeric, "d_logits");
}

TEST(CpuCrossEntropy, BackwardInPlaceEqualsOutOfPlace) {
  std::mt19937_64 rng(4);
  CpuBackend backend;
  const int64_t rows = 40, vocab_size = 1000;
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor logits = random_tensor({rows, vocab_size}, dtype, rng, 6.0);
    const Tensor targets = random_ids({rows}, vocab_size, rng);
    const Tensor d_losses = random_tensor({rows}, dtype, rng);
    Tensor losses = Tensor::empty({rows}, dtype), logsumexp = Tensor::empty({rows}, dtype);
    backend.cross_entropy_forward(logits, targets, losses, logsumexp);
    Tensor d_logits = Tensor::empty({rows, vocab_size}, dtype);
    backend.cross_entropy_backward(logits, targets, logsumexp, d_losses, d_logits);
    Tensor in_place = clone(logits);
    backend.cross_entropy_backward(in_place, targets, logsumexp, d_losses, in_place);
    EXPECT_EQ(std::memcmp(in_place.raw(), d_logits.raw(), d_logits.bytes()), 0) << dtype_name(dtype);
  }
}

TEST(CpuCrossEntropy, BackwardAgreesBetweenF32AndF64) {
  std::mt19937_64 rng(5);
  CpuBackend backend;
  const int64_t rows = 40, vocab_size = 1000;
  const Tensor logits = random_tensor({rows, vocab_size}, DType::f64, rng, 8.0);
  const Tensor targets = random_ids({rows}, vocab_size, rng);
  const Tensor d_losses = random_tensor({rows}, DType::f64, rng);
  Tensor losses = Tensor::empty({rows}, DType::f64), logsumexp = Tensor::empty({rows}, DType::f64);
  Tensor losses_f32 = Tensor::empty({rows}, DType::f32), logsumexp_f32 = Tensor::empty({rows}, DType::f32);
  const Tensor logits_f32 = to_f32(logits);
  backend.cross_entropy_forward(logits, targets, losses, logsumexp);
  backend.cross_entropy_forward(logits_f32, targets, losses_f32, logsumexp_f32);
  Tensor d_logits = Tensor::empty({rows, vocab_size}, DType::f64);
  Tensor d_logits_f32 = Tensor::empty({rows, vocab_size}, DType::f32);
  backend.cross_entropy_backward(logits, targets, logsumexp, d_losses, d_logits);
  backend.cross_entropy_backward(logits_f32, targets, logsumexp_f32, to_f32(d_losses), d_logits_f32);
  // Gradients are probabilities times d_loss (|d_loss| <= 1): compare absolutely at the scale of one.
  for (int64_t i = 0; i < d_logits.numel(); ++i)
    ASSERT_NEAR(d_logits_f32.data<float>()[i], d_logits.data<double>()[i], 1e-5) << i;
}

TEST(CpuCrossEntropy, RejectsWrongShapesAndDtypes) {
  CpuBackend backend;
  const Tensor logits = Tensor::zeros({3, 4}, DType::f32);
  const Tensor targets = Tensor::zeros({3}, DType::i32);
  Tensor losses = Tensor::zeros({3}, DType::f32), logsumexp = Tensor::zeros({3}, DType::f32);
  EXPECT_NO_THROW(backend.cross_entropy_forward(logits, targets, losses, logsumexp));
  const Tensor float_targets = Tensor::zeros({3}, DType::f32);
  expect_rejects([&] { backend.cross_entropy_forward(logits, float_targets, losses, logsumexp); }, "targets");
  const Tensor short_targets = Tensor::zeros({2}, DType::i32);
  expect_rejects([&] { backend.cross_entropy_forward(logits, short_targets, losses, logsumexp); }, "targets");
  Tensor losses_f64 = Tensor::zeros({3}, DType::f64);
  expect_rejects([&] { backend.cross_entropy_forward(logits, targets, losses_f64, logsumexp); }, "losses");
  Tensor wide_logsumexp = Tensor::zeros({3, 1}, DType::f32);
  expect_rejects([&] { backend.cross_entropy_forward(logits, targets, losses, wide_logsumexp); },
                 "logsumexp");

  Tensor d_logits = Tensor::zeros({3, 4}, DType::f32);
  EXPECT_NO_THROW(backend.cross_entropy_backward(logits, targets, logsumexp, losses, d_logits));
  const Tensor d_losses_f64 = Tensor::zeros({3}, DType::f64);
  expect_rejects([&] { backend.cross_entropy_backward(logits, targets, logsumexp, d_losses_f64, d_logits); },
                 "d_losses");
  Tensor narrow_d_logits = Tensor::zeros({3, 3}, DType::f32);
  expect_rejects([&] { backend.cross_entropy_backward(logits, targets, logsumexp, losses, narrow_d_logits); },
                 "d_logits");
  const Tensor logits_i32 = Tensor::zeros({3, 4}, DType::i32);
  Tensor losses_i32 = Tensor::zeros({3}, DType::i32), logsumexp_i32 = Tensor::zeros({3}, DType::i32);
  EXPECT_THROW(backend.cross_entropy_forward(logits_i32, targets, losses_i32, logsumexp_i32),
               std::invalid_argument);
}

}  // namespace
}  // namespace minimind
