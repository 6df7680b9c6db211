// A build without CUDA: the backend is absent, and says so.
#include "backend/backend_factory.h"
#include "backend/cuda/cuda_device.h"

namespace minimind {

bool cuda_backend_built() { return false; }

std::string cuda_unavailable_reason(int) {
  return "this build has no CUDA backend (nvcc was not found when it was configured)";
}

int cuda_device_count() { return 0; }

DeviceInfo cuda_device_info(int index) {
  throw DeviceUnavailableError("device 'cuda:" + std::to_string(index) +
                               "': " + cuda_unavailable_reason(index));
}

std::unique_ptr<Backend> make_cuda_backend(int index) {
  throw DeviceUnavailableError("device 'cuda:" + std::to_string(index) + "': " + cuda_unavailable_reason(index));
}

}  // namespace minimind
