// One optimisation step as the benchmark and the demo run it: forward, backward, clipping, AdamW.
#pragma once

#include "model/minimind_model.h"
#include "train/adamw.h"

namespace minimind::cli {

struct StepOutcome {
  LossTerms loss;
  double grad_norm = 0;
};

inline StepOutcome training_step(MiniMindModel& model, AdamW& optimizer, const Batch& batch, double learning_rate,
                                 double grad_clip, uint64_t dropout_seed) {
  model.backend().zero(model.gradients().buffer());
  StepOutcome outcome;
  outcome.loss = model.forward(batch, true, dropout_seed);
  model.backward();
  outcome.grad_norm = clip_gradient_norm(model.backend(), model.gradients(), grad_clip);
  optimizer.step(model.parameters(), model.gradients(), learning_rate);
  return outcome;
}

}  // namespace minimind::cli
