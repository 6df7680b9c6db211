// The optimizer step over the device's step scalars (backend/step_scalars.h).
#include "train/training_step.h"

#include <stdexcept>
#include <string>

namespace minimind {

TrainingStep::TrainingStep(MiniMindModel& model, AdamW& optimizer, int64_t micro_steps)
    : model_(model), optimizer_(optimizer), backend_(model.backend()), micro_steps_(micro_steps) {
  if (micro_steps < 1)
    throw std::invalid_argument("training step: micro_steps must be at least 1, got " +
                                std::to_string(micro_steps));
  micro_totals_ = backend_.empty({micro_steps, kLossTotalsSize}, Precision::scalar());
  sum_squares_ = backend_.empty({1}, Precision::scalar());
  control_ = backend_.empty({kStepControlSize}, Precision::scalar());
  result_ = backend_.empty({kStepResultSize}, Precision::scalar());
}

void TrainingStep::begin() {
  backend_.zero(model_.gradients().buffer());
  done_ = 0;
}

void TrainingStep::micro_step(const Batch& batch, uint64_t dropout_seed) {
  if (done_ < 0) throw std::logic_error("training step: micro_step before begin");
  if (done_ >= micro_steps_)
    throw std::logic_error("training step: more than " + std::to_string(micro_steps_) + " micro-steps");
  model_.forward_async(batch, true, dropout_seed);
  Tensor row = micro_totals_.rows(done_, done_ + 1);
  backend_.copy(model_.loss_totals(), row);
  model_.backward(1.0 / static_cast<double>(micro_steps_));
  ++done_;
}

StepOutcome TrainingStep::finish(const StepSettings& settings) {
  if (done_ != micro_steps_)
    throw std::logic_error("training step: finish after " + std::to_string(done_) + " of " +
                           std::to_string(micro_steps_) + " micro-steps");
  done_ = -1;
  backend_.sum_squares(model_.gradients().buffer(), sum_squares_);
  Tensor control = Tensor::empty({kStepControlSize}, Precision::scalar());
  double* c = control.data<double>();
  c[kControlLearningRate] = settings.learning_rate;
  c[kControlAdamStep] = static_cast<double>(optimizer_.steps() + 1);
  c[kControlMaxGradNorm] = settings.max_grad_norm;
  c[kControlLossLimit] = settings.loss_limit;
  c[kControlGradNormLimit] = settings.grad_norm_limit;
  backend_.copy(control, control_);
  backend_.update_decision(sum_squares_, micro_totals_, control_, result_);
  optimizer_.step(model_.parameters(), model_.gradients(), control_, result_, model_.compute_copy());

  const Tensor result = backend_.to_host(result_);
  const double* r = result.data<double>();
  StepOutcome outcome;
  outcome.loss = r[kResultLoss];
  outcome.aux_loss = r[kResultAuxLoss];
  outcome.grad_norm = r[kResultGradNorm];
  outcome.clip_factor = r[kResultClipFactor];
  outcome.applied = r[kResultApplied] != 0.0;
  if (outcome.applied) optimizer_.count_applied_step();
  return outcome;
}

StepOutcome TrainingStep::run(const Batch& batch, uint64_t dropout_seed, const StepSettings& settings) {
  begin();
  micro_step(batch, dropout_seed);
  return finish(settings);
}

int64_t TrainingStep::allocated_bytes() const {
  return static_cast<int64_t>(micro_totals_.bytes() + sum_squares_.bytes() + control_.bytes() +
                              result_.bytes());
}

}  // namespace minimind
