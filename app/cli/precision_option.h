// --precision of the commands that train: auto (bf16 with f32 master weights on a GPU, f32 on the CPU), f32
// or bf16, resolved against the backend the command computes on (model/precision_choice.h).
#pragma once

#include "backend/backend.h"
#include "cli/arguments.h"

namespace minimind::cli {

Option precision_option();
// The precision --precision names (default auto) on `backend`; a name that is not accepted, or bf16 on a
// device that does not compute in it, is a UsageError saying so.
Precision precision_from(const Arguments& args, const Backend& backend);

}  // namespace minimind::cli
