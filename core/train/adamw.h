// AdamW over the model's one parameter buffer (the master weights), with its moments in two buffers of the
// same layout. The step reads its learning rate and step count from the device's step control and applies
// only when the device's update decision says so (backend/step_scalars.h), so it never waits on the host.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.h"
#include "model/parameters.h"

namespace minimind {

// Which parameters weight decay applies to: all of them (the seed passes model.parameters() to AdamW as one
// group), or only the matrices (not the norm weights and the embedding), the common alternative.
enum class DecayGroups { all, matrices };

struct AdamWConfig {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;  // torch.optim.AdamW's default, which the seed uses
  DecayGroups decay = DecayGroups::all;
};

class AdamW {
 public:
  // The moments are zero-filled, in `dtype` (the master weights' dtype).
  AdamW(const ParameterLayout& layout, Backend& backend, DType dtype, AdamWConfig config = {});

  // Queues one update of every parameter, decay group by group: when result[kResultApplied] is 1, the
  // gradients times result[kResultClipFactor] update the moments and the parameters with the learning rate
  // and step count of `control` (f64 [kStepControlSize]), and `compute_parameters` (the narrower compute copy
  // of the parameters, or null) is refreshed from them. The host's step count is not touched: the caller
  // counts the applied steps (count_applied_step) once it has read the result.
  void step(ParameterSet& parameters, const ParameterSet& gradients, const Tensor& control,
            const Tensor& result, ParameterSet* compute_parameters = nullptr);
  // Applied updates so far: the next one's kControlAdamStep is steps() + 1.
  int64_t steps() const { return steps_; }
  void count_applied_step() { ++steps_; }
  void set_steps(int64_t steps) { steps_ = steps; }  // when resuming: the bias corrections continue
  const AdamWConfig& config() const { return config_; }
  ParameterSet& first_moment() { return m_; }
  ParameterSet& second_moment() { return v_; }
  int64_t allocated_bytes() const;

 private:
  Backend& backend_;
  AdamWConfig config_;
  // Runs of adjacent parameters that share a weight decay, as [begin, end) element ranges of the buffer.
  struct DecayRun {
    int64_t begin, end;
    bool decay;
  };
  std::vector<DecayRun> runs_;
  ParameterSet m_, v_;
  int64_t steps_ = 0;
};

}  // namespace minimind
