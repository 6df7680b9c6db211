// The scalars of one optimizer step, kept in device memory (f64) so that a step never waits on the host
// and can be captured whole as a CUDA graph: the host writes the step's control values once per step (one
// copy from pinned memory), the device computes the step's result, and the host reads it back only when
// it logs or when it must judge the step (the numerical guard's bookkeeping).
#pragma once

#include <cstdint>

namespace minimind {

// StepControl: f64 [kStepControlSize], written by the host before the update.
enum StepControl : int64_t {
  kControlLearningRate = 0,
  kControlAdamStep,          // 1-based count of applied updates, for AdamW's bias corrections
  kControlMaxGradNorm,       // global-norm clipping threshold; <= 0: no clipping
  kControlLossLimit,         // the update is skipped when the step's loss is above (the guard's spike limit)
  kControlGradNormLimit,     // ... or its gradient norm is above; +inf: no limit
  kStepControlSize
};

// Loss totals of one forward: f64 [kLossTotalsSize], written by the model.
enum LossTotals : int64_t {
  kTotalsWeightedLoss = 0,  // sum over rows of loss[n] * mask[n]
  kTotalsScored,            // sum over rows of mask[n]
  kTotalsAuxLoss,           // the MoE load-balancing loss summed over layers (0 without)
  kLossTotalsSize
};

// StepResult: f64 [kStepResultSize], written by the device's update decision.
enum StepResult : int64_t {
  kResultLoss = 0,      // mean over micro-steps of (weighted / scored + aux)
  kResultAuxLoss,       // mean over micro-steps of aux
  kResultGradNorm,      // global L2 norm of the gradients before clipping
  kResultClipFactor,    // what the gradients are multiplied by in the update (1: not clipped)
  kResultApplied,       // 1 when the update was applied, 0 when the step was skipped
  kStepResultSize
};

}  // namespace minimind
