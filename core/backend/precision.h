// Precision as roles. A backend computes activations in the compute dtype; everything that must not lose
// bits is held wider:
//   compute     activations, their gradients, the weights the products read   bf16 (GPU), f32 or f64 (CPU)
//   master      the parameter buffer AdamW updates, its two moments           f32 (f64 when compute is f64)
//   gradient    parameter gradients, accumulated over micro-steps             f32 (f64 when compute is f64)
//   statistic   rstd, logsumexp, per-row losses, router logits and scores,    f32 (f64 when compute is f64)
//               top-k weights, attention probabilities for the probe
//   scalar      step scalars: loss totals, aux loss, sum of squares, the      f64 always
//               step's control and result (step_scalars.h)
// Checkpoints hold the master weights, so a run moves between devices and precisions exactly.
#pragma once

#include <string>

#include "tensor/tensor.h"

namespace minimind {

// The dtype of master weights, gradients and statistics for a compute dtype.
constexpr DType wide_dtype(DType compute) { return compute == DType::f64 ? DType::f64 : DType::f32; }

struct Precision {
  DType compute = DType::f32;

  DType master() const { return wide_dtype(compute); }
  DType gradient() const { return wide_dtype(compute); }
  DType statistic() const { return wide_dtype(compute); }
  static constexpr DType scalar() { return DType::f64; }
  // The compute weights are a separate (narrower) copy of the master weights.
  bool separate_compute_weights() const { return compute != master(); }

  static Precision f32() { return {DType::f32}; }
  static Precision f64() { return {DType::f64}; }
  static Precision bf16_mixed() { return {DType::bf16}; }
  bool operator==(const Precision&) const = default;
};

// "f32", "f64" or "bf16" (bf16 compute with f32 master weights); anything else throws
// std::invalid_argument naming the accepted forms.
Precision parse_precision(const std::string& name);
std::string precision_name(const Precision& precision);

}  // namespace minimind
