// Which precision a model computes in on a given backend, chosen by name: the training run's setting, the
// CLI's --precision, and the default of the commands that load a model to generate.
#pragma once

#include <string>

#include "backend/backend.h"

namespace minimind {

// "auto": bf16 compute with f32 master weights where the backend computes in bf16 (the GPU), f32 elsewhere;
// "f32"; "bf16". Throws std::invalid_argument for another name (naming the accepted ones), and for bf16 on a
// backend that does not compute in it.
Precision choose_precision(const std::string& name, const Backend& backend);
// choose_precision("auto", backend).
Precision default_precision(const Backend& backend);
// Whether `name` is one of the names above.
bool is_precision_choice(const std::string& name);

}  // namespace minimind
