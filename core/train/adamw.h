// AdamW over the model's one parameter buffer, with its moments in two buffers of the same layout, and
// global-norm gradient clipping.
#pragma once

#include "backend/backend.h"
#include <vector>

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
  AdamW(const ParameterLayout& layout, Backend& backend, DType dtype, AdamWConfig config = {});

  // One update of every parameter with the gradients as they are; counts steps from 1.
  void step(ParameterSet& parameters, const ParameterSet& gradients, double learning_rate);
  int64_t steps() const { return steps_; }
  void set_steps(int64_t steps) { steps_ = steps; }  // when resuming: the bias corrections continue
  const AdamWConfig& config() const { return config_; }
  ParameterSet& first_moment() { return m_; }
  ParameterSet& second_moment() { return v_; }

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

// The global L2 norm of the gradients; scales them down to max_norm when above it (max_norm <= 0: no
// clipping). Returns the norm before clipping.
double clip_gradient_norm(Backend& backend, ParameterSet& gradients, double max_norm);

}  // namespace minimind
