// AdamW over the parameter buffer: with decay on all parameters (the seed's single group) every parameter
// shrinks under a zero gradient; with decay on matrices only, norm weights and the embedding do not.
// Reference: the closed form p * (1 - lr * wd) of a step with a zero gradient; a skipped step leaves the
// parameters bit for bit.
#include <gtest/gtest.h>

#include <limits>

#include "backend/cpu/cpu_backend.h"
#include "model/minimind_model.h"
#include "train/adamw.h"

namespace minimind {
namespace {

ModelConfig tiny() {
  ModelConfig c;
  c.hidden_size = 8;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.vocab_size = 11;
  c.intermediate_size = 16;
  c.max_position_embeddings = 16;
  return c;
}

// The step scalars of the first update at `learning_rate`, and a decision that applies it (or skips it)
// without clipping.
Tensor step_control(double learning_rate) {
  Tensor control = Tensor::zeros({kStepControlSize}, DType::f64);
  control.data<double>()[kControlLearningRate] = learning_rate;
  control.data<double>()[kControlAdamStep] = 1;
  control.data<double>()[kControlLossLimit] = std::numeric_limits<double>::infinity();
  control.data<double>()[kControlGradNormLimit] = std::numeric_limits<double>::infinity();
  return control;
}

Tensor step_result(bool applied) {
  Tensor result = Tensor::zeros({kStepResultSize}, DType::f64);
  result.data<double>()[kResultClipFactor] = 1;
  result.data<double>()[kResultApplied] = applied ? 1 : 0;
  return result;
}

void expect_decay(DecayGroups groups) {
  CpuBackend backend(1);
  MiniMindModel model(tiny(), backend, Precision::f64());
  model.init_weights(1);
  backend.zero(model.gradients().buffer());
  const Tensor before = Tensor::empty(model.parameters().buffer().shape(), DType::f64);
  Tensor copy = before;
  backend.copy(model.parameters().buffer(), copy);
  AdamWConfig config;
  config.weight_decay = 0.1;
  config.decay = groups;
  AdamW optimizer(model.layout(), backend, DType::f64, config);
  optimizer.step(model.parameters(), model.gradients(), step_control(0.5), step_result(true));
  for (const ParameterEntry& e : model.layout().entries()) {
    const bool decays = groups == DecayGroups::all || (e.shape.size() == 2 && e.name != "model.embed_tokens.weight");
    const double factor = decays ? 1 - 0.5 * 0.1 : 1.0;
    for (int64_t i = 0; i < e.numel(); ++i)
      ASSERT_NEAR(model.parameters().buffer().data<double>()[e.offset + i], before.data<double>()[e.offset + i] * factor,
                  1e-15)
          << e.name;
  }
}

TEST(AdamWGroups, DecayAllAsTheSeed) { expect_decay(DecayGroups::all); }
TEST(AdamWGroups, ASkippedStepChangesNothing) {
  CpuBackend backend(1);
  MiniMindModel model(tiny(), backend, Precision::f64());
  model.init_weights(1);
  backend.zero(model.gradients().buffer());
  const Tensor before = Tensor::empty(model.parameters().buffer().shape(), DType::f64);
  Tensor copy = before;
  backend.copy(model.parameters().buffer(), copy);
  AdamWConfig config;
  config.weight_decay = 0.1;
  AdamW optimizer(model.layout(), backend, DType::f64, config);
  optimizer.step(model.parameters(), model.gradients(), step_control(0.5), step_result(false));
  for (int64_t i = 0; i < before.numel(); ++i)
    ASSERT_EQ(model.parameters().buffer().data<double>()[i], before.data<double>()[i]) << i;
  EXPECT_EQ(optimizer.steps(), 0);  // the host counts applied steps, and only once told
}
TEST(AdamWGroups, DecayMatricesOnly) { expect_decay(DecayGroups::matrices); }

}  // namespace
}  // namespace minimind
