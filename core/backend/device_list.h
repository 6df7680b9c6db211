// The devices this machine can train on, as the lab offers them and the preflight measures them: the CPU with
// the host's memory, and each GPU with its name and memory, or why no GPU can be used. Asked of the driver
// (backend/cuda/cuda_device.h) without making a backend, so asking again on every change stays cheap.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend_factory.h"
#include "config/memory_preflight.h"

namespace minimind {

struct DeviceChoice {
  DeviceSpec spec;          // the factory's device: cpu, or cuda:N
  std::string name;         // the CPU's model name, or "NVIDIA H100 80GB HBM3"; empty when unknown
  int64_t total_bytes = 0;  // the host's memory, or the GPU's
  int64_t free_bytes = 0;   // when listed
  std::string unavailable;  // why this device cannot be used, in words; empty when it can
  bool usable() const { return unavailable.empty(); }
};

// The CPU first, then each GPU the driver shows (cuda:0, cuda:1, ...), a GPU that cannot be asked with the
// error as its reason. Without any usable GPU (no CUDA in this build, no driver, no GPU), one cuda:0 entry
// says why (cuda_unavailable_reason). Never throws for a missing or failing GPU.
std::vector<DeviceChoice> list_devices();

// What a plan on `device` may use now: the system's available memory (available_system_memory) for the CPU,
// the GPU's free memory for cuda:N ("cuda:0 free memory, NVIDIA H100 80GB HBM3"). Throws
// DeviceUnavailableError for a GPU that cannot be used, std::runtime_error when the figure cannot be read.
AvailableMemory available_memory(const DeviceSpec& device);

// The whole of a GPU's memory, as if nothing else held any ("cuda:0 total memory, ..."): what advice after an
// out-of-memory compares with. Throws as available_memory; for the CPU, the system's available memory.
AvailableMemory device_capacity(const DeviceSpec& device);

}  // namespace minimind
