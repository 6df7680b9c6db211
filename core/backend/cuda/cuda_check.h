// One way to call CUDA, cuBLAS and cuBLASLt: every call goes through CUDA_CHECK / CUBLAS_CHECK, which throw
// CudaError naming the call, the file and the line (never exit). A failed allocation throws
// DeviceOutOfMemoryError with the bytes asked for and the bytes free. CUDA_CHECK_LAUNCH follows each
// kernel launch.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "backend/device_out_of_memory.h"

namespace minimind {

class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The GPU had too little free memory for an allocation. Code without CUDA's headers knows it by its
// DeviceOutOfMemory base (requested_bytes(), free_bytes()).
class DeviceOutOfMemoryError : public CudaError, public DeviceOutOfMemory {
 public:
  DeviceOutOfMemoryError(const std::string& message, int64_t requested_bytes, int64_t free_bytes)
      : CudaError(message), DeviceOutOfMemory(requested_bytes, free_bytes) {}
};

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line);

}  // namespace minimind

#define CUDA_CHECK(call)                                                                  \
  do {                                                                                    \
    const cudaError_t minimind_status_ = (call);                                          \
    if (minimind_status_ != cudaSuccess)                                                  \
      ::minimind::throw_cuda_error(minimind_status_, #call, __FILE__, __LINE__);          \
  } while (0)

#define CUBLAS_CHECK(call)                                                                \
  do {                                                                                    \
    const cublasStatus_t minimind_status_ = (call);                                       \
    if (minimind_status_ != CUBLAS_STATUS_SUCCESS)                                        \
      ::minimind::throw_cublas_error(minimind_status_, #call, __FILE__, __LINE__);        \
  } while (0)

// After a kernel launch: a bad configuration is reported at once, naming the kernel.
#define CUDA_CHECK_LAUNCH(kernel_name) CUDA_CHECK(cudaGetLastError())
