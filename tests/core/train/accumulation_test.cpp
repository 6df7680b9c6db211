// Gradient accumulation: k micro-batches with the loss scaled by 1/k give the gradient of one batch k times
// larger (every position scored, so each micro-batch's mean weighs the same). Reference: the big batch, f64.
#include <gtest/gtest.h>

#include <random>

#include "backend/cpu/cpu_backend.h"
#include "model/minimind_model.h"
#include "support/gradient_check.h"

namespace minimind {
namespace {

TEST(GradientAccumulation, MicroBatchesEqualOneLargerBatch) {
  for (bool moe : {false, true}) {
    ModelConfig c;
    c.hidden_size = 16;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.num_key_value_heads = 2;
    c.vocab_size = 29;
    c.intermediate_size = 24;
    c.max_position_embeddings = 32;
    c.use_moe = moe;
    c.seq_aux = true;  // per-sequence aux loss: a mean over sequences, so it splits like the cross-entropy
    CpuBackend backend(2);
    MiniMindModel model(c, backend, Precision::f64());
    model.init_weights(4);
    std::mt19937_64 rng(8);
    const int64_t k = 3, b = 2, t = 6;
    const Tensor ids = testing::random_ids({k * b, t}, 29, rng), targets = testing::random_ids({k * b, t}, 29, rng);

    backend.zero(model.gradients().buffer());
    const double big_loss = model.forward({ids, targets, {}, {}}, true).loss;
    model.backward();
    const Tensor big = Tensor::empty(model.gradients().buffer().shape(), DType::f64);
    Tensor big_copy = big;
    backend.copy(model.gradients().buffer(), big_copy);

    backend.zero(model.gradients().buffer());
    double accumulated_loss = 0;
    for (int64_t micro = 0; micro < k; ++micro) {
      const Batch batch{ids.rows(micro * b, micro * b + b), targets.rows(micro * b, micro * b + b), {}, {}};
      accumulated_loss += model.forward(batch, true).loss / k;
      model.backward(1.0 / k);
    }
    EXPECT_NEAR(accumulated_loss, big_loss, 1e-12) << "moe " << moe;
    const Tensor small = model.gradients().buffer();
    double worst = 0;
    for (int64_t i = 0; i < big.numel(); ++i)
      worst = std::max(worst, std::abs(small.data<double>()[i] - big.data<double>()[i]));
    EXPECT_LT(worst, 1e-12) << "moe " << moe;
  }
}

}  // namespace
}  // namespace minimind
