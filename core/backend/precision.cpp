// Precision names as the command line and train_config.json spell them.
#include "backend/precision.h"

#include <stdexcept>

namespace minimind {

Precision parse_precision(const std::string& name) {
  if (name == "f32") return Precision::f32();
  if (name == "f64") return Precision::f64();
  if (name == "bf16") return Precision::bf16_mixed();
  throw std::invalid_argument("precision '" + name +
                              "' is not one of f32, f64 or bf16 (bf16 compute with f32 master weights)");
}

std::string precision_name(const Precision& precision) {
  switch (precision.compute) {
    case DType::f32:
      return "f32";
    case DType::f64:
      return "f64";
    case DType::bf16:
      return "bf16";
    default:
      throw std::invalid_argument("precision: no name for compute dtype " +
                                  std::string(dtype_name(precision.compute)) + " (f32, f64 or bf16)");
  }
}

}  // namespace minimind
