// AdamW over whole buffers, one backend call per run of parameters sharing a weight decay.
#include "train/adamw.h"

namespace minimind {

AdamW::AdamW(const ParameterLayout& layout, Backend& backend, DType dtype, AdamWConfig config)
    : backend_(backend), config_(config), m_(layout, backend, dtype), v_(layout, backend, dtype) {
  for (const ParameterEntry& e : layout.entries()) {
    const bool decay = config.decay == DecayGroups::all ||
                       (e.shape.size() == 2 && e.name != "model.embed_tokens.weight");
    if (!runs_.empty() && runs_.back().decay == decay && runs_.back().end == e.offset)
      runs_.back().end = e.offset + e.numel();
    else
      runs_.push_back({e.offset, e.offset + e.numel(), decay});
  }
}

void AdamW::step(ParameterSet& parameters, const ParameterSet& gradients, const Tensor& control,
                 const Tensor& result, ParameterSet* compute_parameters) {
  AdamWOptions options;
  options.beta1 = config_.beta1;
  options.beta2 = config_.beta2;
  options.eps = config_.eps;
  for (const DecayRun& run : runs_) {
    options.weight_decay = run.decay ? config_.weight_decay : 0.0;
    const Shape shape{run.end - run.begin};
    Tensor p = parameters.buffer().flat(run.begin, shape), m = m_.buffer().flat(run.begin, shape),
           v = v_.buffer().flat(run.begin, shape);
    Tensor compute = compute_parameters ? compute_parameters->buffer().flat(run.begin, shape) : Tensor{};
    backend_.adamw_step(p, gradients.buffer().flat(run.begin, shape), m, v, options, control, result,
                        compute);
  }
}

int64_t AdamW::allocated_bytes() const {
  return static_cast<int64_t>(m_.buffer().bytes() + v_.buffer().bytes());
}

}  // namespace minimind
