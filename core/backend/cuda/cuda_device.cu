// Whether a GPU can be used here, asked of the driver without creating a context on every GPU.
#include "backend/backend_factory.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_device.h"

namespace minimind {

bool cuda_backend_built() { return true; }

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return 0;
  }
  return count;
}

std::string cuda_unavailable_reason(int index) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    return std::string("no usable NVIDIA GPU: ") + cudaGetErrorString(status);
  }
  if (count == 0) return "no NVIDIA GPU on this machine";
  if (index < 0 || index >= count)
    return "there is no GPU " + std::to_string(index) + " (this machine has " + std::to_string(count) + ")";
  return {};
}

DeviceInfo cuda_device_info(int index) {
  const std::string why = cuda_unavailable_reason(index);
  if (!why.empty()) throw DeviceUnavailableError("device 'cuda:" + std::to_string(index) + "': " + why);
  cudaDeviceProp properties{};
  CUDA_CHECK(cudaGetDeviceProperties(&properties, index));
  int previous = 0;
  CUDA_CHECK(cudaGetDevice(&previous));
  // The free figure is the device's context's to give: make it current for the question, then restore.
  CUDA_CHECK(cudaSetDevice(index));
  size_t free_bytes = 0, total_bytes = 0;
  const cudaError_t status = cudaMemGetInfo(&free_bytes, &total_bytes);
  cudaSetDevice(previous);
  CUDA_CHECK(status);
  return {properties.name, static_cast<int64_t>(total_bytes), static_cast<int64_t>(free_bytes)};
}

std::unique_ptr<Backend> make_cuda_backend(int index) {
  const std::string why = cuda_unavailable_reason(index);
  if (!why.empty()) throw DeviceUnavailableError("device 'cuda:" + std::to_string(index) + "': " + why);
  return std::make_unique<CudaBackend>(index);
}

}  // namespace minimind
