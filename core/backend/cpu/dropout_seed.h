// The seed of a dropout site's mask on the CPU: the step seed is a host tensor here (i32 [2], low word
// first), read when the op runs, and mixed with the site's number as every backend mixes it.
#pragma once

#include <cstdint>

#include "backend/dropout_mask.h"

namespace minimind::cpu {

inline uint64_t site_seed(const Dropout& dropout) {
  const int32_t* words = dropout.step_seed.data<int32_t>();
  return dropout_site_seed(
      dropout_step_seed(static_cast<uint32_t>(words[0]), static_cast<uint32_t>(words[1])), dropout.site);
}

}  // namespace minimind::cpu
