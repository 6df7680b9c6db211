// Snapshots: one buffer copy out, one buffer copy in.
#include "model/model_snapshot.h"

#include <stdexcept>
#include <string>

#include "model/precision_choice.h"

namespace minimind {

ModelSnapshot take_snapshot(const MiniMindModel& model, int64_t step) {
  ModelSnapshot snapshot;
  snapshot.step = step;
  snapshot.config = model.config();
  const Tensor& buffer = model.parameters().buffer();
  snapshot.weights = Tensor::empty(buffer.shape(), buffer.dtype());
  model.backend().copy(buffer, snapshot.weights);
  return snapshot;
}

std::unique_ptr<MiniMindModel> model_from_snapshot(const ModelSnapshot& snapshot, Backend& backend) {
  if (!snapshot.weights.defined()) throw std::invalid_argument("model_from_snapshot: the snapshot holds no weights");
  const Precision precision = snapshot.weights.dtype() == DType::f64 && backend.supports_compute(DType::f64)
                                  ? Precision::f64()
                                  : default_precision(backend);
  auto model = std::make_unique<MiniMindModel>(snapshot.config, backend, precision);
  Tensor& buffer = model->parameters().buffer();
  if (snapshot.weights.numel() != buffer.numel())
    throw std::invalid_argument("model_from_snapshot: the snapshot holds " + std::to_string(snapshot.weights.numel()) +
                                " weights, its config's layout needs " + std::to_string(buffer.numel()));
  backend.copy(snapshot.weights, buffer);
  model->refresh_compute_weights();
  return model;
}

}  // namespace minimind
