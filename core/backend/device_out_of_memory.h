// What every device backend's allocation failure carries, without the device's headers: the CLI and the lab
// recognise a GPU that ran out of memory by this base (catch it, or dynamic_cast a std::exception to it) and
// advise on the sizes, in a build with or without CUDA. A backend's error derives from it and from its own
// exception type (cuda_check.h's DeviceOutOfMemoryError), which carries the message.
#pragma once

#include <cstdint>

namespace minimind {

class DeviceOutOfMemory {
 public:
  DeviceOutOfMemory(int64_t requested_bytes, int64_t free_bytes)
      : requested_bytes_(requested_bytes), free_bytes_(free_bytes) {}
  virtual ~DeviceOutOfMemory() = default;
  int64_t requested_bytes() const { return requested_bytes_; }
  int64_t free_bytes() const { return free_bytes_; }  // on the device when the allocation failed

 private:
  int64_t requested_bytes_, free_bytes_;
};

}  // namespace minimind
