// CUDA backend: the device, its stream and handles, memory and copies. The ops live in their own files.
#include "backend/cuda/cuda_backend.h"

#include <cstring>
#include <string>

#include "backend/backend_factory.h"
#include "backend/cuda/cuda_check.h"

namespace minimind {

namespace {
constexpr size_t kWorkspaceBytes = 32u << 20;  // cuBLASLt's recommendation for Hopper
}

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  throw CudaError(std::string("CUDA error ") + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) +
                  ") in " + call + " at " + file + ":" + std::to_string(line));
}

void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  throw CudaError(std::string("cuBLAS error ") + cublasGetStatusName(status) + " (" + cublasGetStatusString(status) +
                  ") in " + call + " at " + file + ":" + std::to_string(line));
}

CudaBackend::CudaBackend(int index) : index_(index) {
  CUDA_CHECK(cudaSetDevice(index_));
  CUDA_CHECK(cudaDeviceGetAttribute(&multiprocessors_, cudaDevAttrMultiProcessorCount, index_));
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  CUBLAS_CHECK(cublasCreate(&cublas_));
  CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  CUBLAS_CHECK(cublasLtCreate(&cublas_lt_));
  workspace_bytes_ = kWorkspaceBytes;
  CUDA_CHECK(cudaMalloc(&workspace_, workspace_bytes_));
}

CudaBackend::~CudaBackend() {
  // Destructors do not throw: errors here are ignored (the process may be unwinding from a CUDA error).
  if (stream_) cudaStreamSynchronize(stream_);
  if (workspace_) cudaFree(workspace_);
  if (cublas_lt_) cublasLtDestroy(cublas_lt_);
  if (cublas_) cublasDestroy(cublas_);
  if (stream_) cudaStreamDestroy(stream_);
}

DeviceInfo CudaBackend::device_info() {
  CUDA_CHECK(cudaSetDevice(index_));
  cudaDeviceProp properties{};
  CUDA_CHECK(cudaGetDeviceProperties(&properties, index_));
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return {properties.name, static_cast<int64_t>(total_bytes), static_cast<int64_t>(free_bytes)};
}

Tensor CudaBackend::empty(Shape shape, DType dtype) {
  for (int64_t d : shape)
    if (d < 0) throw std::invalid_argument("tensor: negative dimension in shape " + shape_string(shape));
  const size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  void* data = nullptr;
  if (bytes) {
    CUDA_CHECK(cudaSetDevice(index_));
    const cudaError_t status = cudaMalloc(&data, bytes);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      throw DeviceOutOfMemoryError("GPU " + std::to_string(index_) + " is out of memory: " +
                                       std::to_string(bytes) + " bytes asked for " + shape_string(shape) + " " +
                                       std::string(dtype_name(dtype)) + ", " + std::to_string(free_bytes) +
                                       " bytes free of " + std::to_string(total_bytes),
                                   static_cast<int64_t>(bytes), static_cast<int64_t>(free_bytes));
    }
    CUDA_CHECK(status);
  }
  const int index = index_;
  auto storage = std::make_shared<Storage>(Device::cuda, bytes, data, [index](void* p) {
    if (!p) return;
    cudaSetDevice(index);
    cudaFree(p);  // frees after the work queued on it (cudaFree synchronizes the device)
  });
  return Tensor(std::move(storage), 0, std::move(shape), dtype);
}

void CudaBackend::synchronize() { CUDA_CHECK(cudaStreamSynchronize(stream_)); }

Tensor CudaBackend::to_host(const Tensor& t) {
  expect_defined(t, "to_host", "t");
  Tensor host = Tensor::empty(t.shape(), t.dtype());
  if (!t.bytes()) return host;
  const cudaMemcpyKind kind = t.device() == Device::cuda ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost;
  CUDA_CHECK(cudaMemcpyAsync(host.raw(), t.raw(), t.bytes(), kind, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  return host;
}

void CudaBackend::do_zero(Tensor& t) {
  if (!t.bytes()) return;
  if (t.device() == Device::cpu) {
    std::memset(t.raw(), 0, t.bytes());
    return;
  }
  CUDA_CHECK(cudaMemsetAsync(t.raw(), 0, t.bytes(), stream_));
}

void CudaBackend::do_copy(const Tensor& src, Tensor& dst) {
  if (!src.bytes() || src.raw() == dst.raw()) return;
  if (src.dtype() != dst.dtype()) throw std::logic_error("cuda copy: dtype conversion not implemented");
  const bool from_device = src.device() == Device::cuda, to_device = dst.device() == Device::cuda;
  const cudaMemcpyKind kind = from_device ? (to_device ? cudaMemcpyDeviceToDevice : cudaMemcpyDeviceToHost)
                                          : (to_device ? cudaMemcpyHostToDevice : cudaMemcpyHostToHost);
  CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), src.bytes(), kind, stream_));
  // A pageable host buffer may be reused by the caller as soon as this returns.
  if (!from_device || !to_device) CUDA_CHECK(cudaStreamSynchronize(stream_));
}

}  // namespace minimind
