// One optimizer step, as the trainer, the benchmark and the demo all run it: zero the gradients; per
// micro-batch, the forward (its loss totals copied into the step's row of micro-step totals) and the
// backward scaled by 1 / micro-steps; then the gradients' sum of squares, the step's control scalars
// uploaded in one copy, the device's update decision (loss, gradient norm, clip factor, apply or skip) and
// AdamW, which applies only when the decision says so. The host reads the result back once, at the end.
//
// The step is split into begin / micro_step / finish so that its caller can act between micro-steps (the
// trainer's pause, stop and snapshot requests) and between the last backward and finish (the gradient hook).
#pragma once

#include <cstdint>
#include <limits>

#include "model/minimind_model.h"
#include "train/adamw.h"

namespace minimind {

// What the host decides for a step before it runs (written into the device's StepControl).
struct StepSettings {
  double learning_rate = 0;
  double max_grad_norm = 0;  // global-norm clipping threshold; <= 0: no clipping
  // The numerical guard's limits (NumericalGuard::limits): the update is skipped above them.
  double loss_limit = std::numeric_limits<double>::infinity();
  double grad_norm_limit = std::numeric_limits<double>::infinity();
};

// What the device decided (its StepResult, read back).
struct StepOutcome {
  double loss = 0;       // mean over micro-steps of (cross-entropy + aux loss)
  double aux_loss = 0;   // mean over micro-steps of the MoE aux loss
  double grad_norm = 0;  // before clipping
  double clip_factor = 1;
  bool applied = false;  // false: the update was skipped (non-finite, or above a limit)
};

class TrainingStep {
 public:
  // Buffers for `micro_steps` micro-batches per step on the model's backend (planned here, not in the step).
  TrainingStep(MiniMindModel& model, AdamW& optimizer, int64_t micro_steps = 1);

  int64_t micro_steps() const { return micro_steps_; }
  int64_t micro_steps_done() const { return done_; }

  // Starts a step: zeroes the gradients.
  void begin();
  // One micro-batch: forward (training mode, dropout masks from `dropout_seed`), its loss totals kept, and
  // the backward scaled by 1 / micro_steps(). Throws std::logic_error past micro_steps() or before begin().
  void micro_step(const Batch& batch, uint64_t dropout_seed);
  // After every micro-step: the decision and AdamW on the device, then the one read-back. AdamW's step count
  // advances when the update was applied. Throws std::logic_error unless every micro-step has run.
  StepOutcome finish(const StepSettings& settings);
  // begin, one micro_step, finish: a step of one micro-batch (the benchmark and the demo).
  StepOutcome run(const Batch& batch, uint64_t dropout_seed, const StepSettings& settings);

  // The device buffers this step holds (micro-step totals and the step scalars).
  int64_t allocated_bytes() const;

 private:
  MiniMindModel& model_;
  AdamW& optimizer_;
  Backend& backend_;
  int64_t micro_steps_;
  int64_t done_ = -1;    // -1: no step begun
  Tensor micro_totals_;  // f64 [M, kLossTotalsSize]
  Tensor sum_squares_;   // f64 [1]
  Tensor control_;       // f64 [kStepControlSize]
  Tensor result_;        // f64 [kStepResultSize]
};

}  // namespace minimind
