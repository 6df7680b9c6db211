// Dropout masks from a counter-based hash: element i of a site is kept iff hash(site_seed, i) >= p * 2^32.
// The backward regenerates the same mask from the seed, so no mask is stored, and every backend
// (CPU threads, CUDA blocks) draws identical masks in any order. The step's seed lives in device memory
// (it changes every micro-step, and a captured step must read it rather than bake it in); each site of the
// network mixes its own number into it.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

#if defined(__CUDACC__)
#define MINIMIND_HOST_DEVICE __host__ __device__
#else
#define MINIMIND_HOST_DEVICE
#endif

namespace minimind {

struct Dropout {
  double probability = 0.0;  // 0 disables
  Tensor step_seed;          // i32 [2] on the op's device: the micro-step's seed, low word first
  uint64_t site = 0;         // unique per site of the network (layer and place)
  bool active() const { return probability > 0.0; }
};

MINIMIND_HOST_DEVICE inline uint32_t dropout_hash(uint64_t seed, uint64_t index) {
  // splitmix64 finalizer over the pair
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + index + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<uint32_t>(z >> 32);
}

// The seed of one site's mask for one step: a distinct stream per (step, site).
MINIMIND_HOST_DEVICE inline uint64_t dropout_site_seed(uint64_t step_seed, uint64_t site) {
  return (static_cast<uint64_t>(dropout_hash(step_seed, site)) << 32) | dropout_hash(~step_seed, site);
}

MINIMIND_HOST_DEVICE inline uint64_t dropout_step_seed(uint32_t low, uint32_t high) {
  return (static_cast<uint64_t>(high) << 32) | low;
}

MINIMIND_HOST_DEVICE inline uint32_t dropout_threshold(double probability) {
  const double t = probability * 4294967296.0;
  return t >= 4294967295.0 ? 0xFFFFFFFFu : static_cast<uint32_t>(t);
}

MINIMIND_HOST_DEVICE inline bool dropout_keep(uint64_t seed, uint64_t index, uint32_t threshold) {
  return dropout_hash(seed, index) >= threshold;
}

}  // namespace minimind
