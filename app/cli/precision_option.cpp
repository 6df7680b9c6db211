// The precision flag shared by the training commands.
#include "cli/precision_option.h"

#include <stdexcept>

#include "model/precision_choice.h"

namespace minimind::cli {

Option precision_option() {
  return {"precision", "NAME",
          "auto (default: bf16 compute with f32 master weights on a GPU, f32 on the CPU), f32 or bf16"};
}

Precision precision_from(const Arguments& args, const Backend& backend) {
  try {
    return choose_precision(args.text("precision", "auto"), backend);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--") + e.what());
  }
}

}  // namespace minimind::cli
