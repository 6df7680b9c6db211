// Named model configurations, from one that trains visibly on two CPU cores to a 2048-wide model for a GPU.
// resources/presets/<name>.json holds each one's config.json; a test keeps the files equal to this code.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/model_config.h"

namespace minimind {

// In order of size: tiny, small, medium, large, then the variants of small: moe, long.
std::vector<std::string> preset_names();
// Throws std::invalid_argument naming the available presets when `name` is not one of them.
ModelConfig preset(std::string_view name);

}  // namespace minimind
