// The options that choose a model configuration: a preset or a config.json, then per-field overrides with
// MiniMind's flag names (--hidden_size, --num_hidden_layers, --use_moe, ...).
#pragma once

#include <vector>

#include "cli/arguments.h"
#include "config/model_config.h"

namespace minimind::cli {

std::vector<Option> model_options();
// Validated; throws ConfigError naming each broken field.
ModelConfig model_config_from(const Arguments& args);

}  // namespace minimind::cli
