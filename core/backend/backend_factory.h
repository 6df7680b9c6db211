// The one place that turns a device name (cpu, cuda, cuda:N) into a backend. The CLI, the lab and the
// tests name a device; none of them constructs a particular backend's class.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "backend/backend.h"

namespace minimind {

// A device name that is none of the accepted forms; the message names them.
class DeviceNameError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A well-formed device that this build or machine cannot compute on (no CUDA backend yet).
class DeviceUnavailableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DeviceSpec {
  Device kind = Device::cpu;
  int index = 0;             // the GPU's ordinal for cuda; always 0 for cpu
  std::string name() const;  // "cpu" or "cuda:N"
  bool operator==(const DeviceSpec&) const = default;
};

// "cpu", "cuda" (GPU 0) or "cuda:N" with N a decimal ordinal; anything else throws DeviceNameError.
DeviceSpec parse_device(std::string_view name);

// A backend for `device`; `threads` is the CPU backend's OpenMP thread count (0: OpenMP's count for the
// calling thread, that is OMP_NUM_THREADS or every core). Throws DeviceUnavailableError for a device this
// build cannot use.
std::unique_ptr<Backend> make_backend(const DeviceSpec& device, int threads = 0);
std::unique_ptr<Backend> make_backend(std::string_view device, int threads = 0);

}  // namespace minimind
