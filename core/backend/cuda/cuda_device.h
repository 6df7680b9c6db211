// What the rest of the engine knows of the CUDA backend, without CUDA's headers: whether this build has
// it, whether a GPU can be used here (and why not), and how to make one. Only the factory and the device
// listing use this file.
#pragma once

#include <memory>
#include <string>

#include "backend/backend.h"

namespace minimind {

// Whether this build compiled the CUDA backend.
bool cuda_backend_built();
// "" when GPU `index` can be used; else why not, in words (no CUDA in this build, no driver, no such GPU).
std::string cuda_unavailable_reason(int index = 0);
// The number of GPUs the driver shows (0 without a driver or without CUDA in this build).
int cuda_device_count();
// GPU `index`'s name, total and free memory, asked of the driver without making a backend (no handles, no
// workspace: cheap enough to ask on every change of the lab's settings). The calling thread's current
// device is kept. Throws DeviceUnavailableError saying why when the GPU cannot be used, CudaError when the
// driver fails to answer.
DeviceInfo cuda_device_info(int index);
// A backend on GPU `index`; throws DeviceUnavailableError (backend_factory.h) saying why when it cannot.
std::unique_ptr<Backend> make_cuda_backend(int index);

}  // namespace minimind
