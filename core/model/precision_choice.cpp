// Precision by name, resolved against what a backend computes in.
#include "model/precision_choice.h"

#include <stdexcept>

namespace minimind {

bool is_precision_choice(const std::string& name) {
  return name == "auto" || name == "f32" || name == "bf16";
}

Precision default_precision(const Backend& backend) {
  return backend.supports_compute(DType::bf16) ? Precision::bf16_mixed() : Precision::f32();
}

Precision choose_precision(const std::string& name, const Backend& backend) {
  if (!is_precision_choice(name))
    throw std::invalid_argument("precision must be auto, f32 or bf16, got \"" + name + "\"");
  if (name == "auto") return default_precision(backend);
  if (name == "f32") return Precision::f32();
  if (!backend.supports_compute(DType::bf16))
    throw std::invalid_argument("precision bf16 needs a device that computes in bf16 (a GPU); the " +
                                std::string(device_name(backend.device())) + " computes in f32");
  return Precision::bf16_mixed();
}

}  // namespace minimind
