// AdamW and clipping over whole buffers.
#include "train/adamw.h"

#include <cmath>

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

void AdamW::step(ParameterSet& parameters, const ParameterSet& gradients, double learning_rate) {
  ++steps_;
  AdamWOptions options;
  options.learning_rate = learning_rate;
  options.beta1 = config_.beta1;
  options.beta2 = config_.beta2;
  options.eps = config_.eps;
  options.weight_decay = config_.weight_decay;
  options.step = steps_;
  for (const DecayRun& run : runs_) {
    options.weight_decay = run.decay ? config_.weight_decay : 0.0;
    const Shape shape{run.end - run.begin};
    Tensor p = parameters.buffer().flat(run.begin, shape), m = m_.buffer().flat(run.begin, shape),
           v = v_.buffer().flat(run.begin, shape);
    backend_.adamw_step(p, gradients.buffer().flat(run.begin, shape), m, v, options);
  }
}

double clip_gradient_norm(Backend& backend, ParameterSet& gradients, double max_norm) {
  const double norm = std::sqrt(backend.sum_squares(gradients.buffer()));
  // torch.nn.utils.clip_grad_norm_ scales by max_norm / (norm + 1e-6) when that is below one.
  const double factor = max_norm / (norm + 1e-6);
  if (max_norm > 0 && factor < 1.0) backend.scale(gradients.buffer(), factor);
  return norm;
}

}  // namespace minimind
