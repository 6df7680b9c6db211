// A copy of a model's weights at one moment, on the host: the config and the flat parameter buffer (the
// layout follows from the config), so a model being trained on one backend can be rebuilt on another (the
// lab generates from the run while it trains) without touching the trainer's model again.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include "config/model_config.h"
#include "model/minimind_model.h"

namespace minimind {

struct ModelSnapshot {
  int64_t step = 0;  // optimizer steps the weights have taken
  ModelConfig config;
  Tensor
      weights;  // host copy of the master weights, [ParameterLayout(config).total()], their dtype (f32 / f64)
  std::filesystem::path tokenizer;  // the run's tokenizer.json; empty when the run has none
};

// Copies `model`'s parameters to the host (a deep copy: later updates of the model do not show in it).
ModelSnapshot take_snapshot(const MiniMindModel& model, int64_t step);

// A new model on `backend` holding the snapshot's weights as its master weights: f64 weights compute in
// f64 where the backend can, others in the backend's default precision (model/precision_choice.h). Throws
// std::invalid_argument when the weights do not match the config's layout.
std::unique_ptr<MiniMindModel> model_from_snapshot(const ModelSnapshot& snapshot, Backend& backend);

}  // namespace minimind
