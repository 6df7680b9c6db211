// The options that choose a model configuration: a preset, a config.json or a run config (the lab's saved
// model and training settings), then per-field overrides with MiniMind's flag names (--hidden_size, ...).
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

#include "cli/arguments.h"
#include "config/model_config.h"
#include "train/train_config.h"

namespace minimind::cli {

std::vector<Option> model_options();

// What --config names: a model config.json, or a run config whose "train" settings come along.
struct ConfigFile {
  ModelConfig model;
  std::optional<TrainConfig> train;  // only from a run config
};
ConfigFile read_config_file(const std::filesystem::path& path);

// Validated; throws ConfigError naming each broken field.
ModelConfig model_config_from(const Arguments& args);

}  // namespace minimind::cli
