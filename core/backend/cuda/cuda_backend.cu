// CUDA backend: the device, its stream and handles, memory, the pinned staging buffer and the reads back to
// the host. Copies live in copy.cu and the ops in their own files.
#include "backend/cuda/cuda_backend.h"

#include <cstring>
#include <string>

#include "backend/backend_factory.h"
#include "backend/cuda/cuda_check.h"

namespace minimind {

namespace {
constexpr size_t kWorkspaceBytes = 32u << 20;  // cuBLASLt's recommendation for Hopper
// Holds a step's uploads (control scalars, seeds, a batch of token ids) several times over.
constexpr size_t kStagingBytes = 4u << 20;
// Per-block partials of the reductions (sum_squares uses at most 1024 doubles).
constexpr size_t kScratchBytes = 1u << 20;
// Staging regions start on this boundary (what cudaMemcpyAsync copies fastest from).
constexpr size_t kStagingAlignment = 256;

size_t round_up(size_t bytes, size_t multiple) {
  return (bytes + multiple - 1) / multiple * multiple;
}
}  // namespace

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  // The exception reports the error; clear it so that the next launch check does not report it again (a
  // sticky error, which breaks the context, stays regardless).
  cudaGetLastError();
  throw CudaError(std::string("CUDA error ") + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) +
                  ") in " + call + " at " + file + ":" + std::to_string(line));
}

void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  throw CudaError(std::string("cuBLAS error ") + cublasGetStatusName(status) + " (" + cublasGetStatusString(status) +
                  ") in " + call + " at " + file + ":" + std::to_string(line));
}

CudaBackend::CudaBackend(int index) : index_(index) {
  try {
    CUDA_CHECK(cudaSetDevice(index_));
    CUDA_CHECK(cudaDeviceGetAttribute(&multiprocessors_, cudaDevAttrMultiProcessorCount, index_));
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasCreate(&cublas_));
    CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    CUBLAS_CHECK(cublasLtCreate(&cublas_lt_));
    workspace_bytes_ = kWorkspaceBytes;
    CUDA_CHECK(cudaMalloc(&workspace_, workspace_bytes_));
    scratch_bytes_ = kScratchBytes;
    CUDA_CHECK(cudaMalloc(&scratch_, scratch_bytes_));
    // Zeroed once, so that compute-sanitizer's initcheck sees no read of uninitialized memory in either.
    CUDA_CHECK(cudaMemset(workspace_, 0, workspace_bytes_));
    CUDA_CHECK(cudaMemset(scratch_, 0, scratch_bytes_));
    staging_bytes_ = kStagingBytes;
    CUDA_CHECK(cudaMallocHost(&staging_, staging_bytes_));
  } catch (...) {
    release();
    throw;
  }
}

CudaBackend::~CudaBackend() {
  release();
}

void CudaBackend::release() noexcept {
  // Errors here are ignored: this runs in a destructor, and the process may be unwinding from a CUDA error.
  if (stream_) cudaStreamSynchronize(stream_);
  matmul_plans_.reset();
  for (const StagingRegion& region : staging_in_flight_) cudaEventDestroy(region.done);
  staging_in_flight_.clear();
  for (cudaEvent_t event : spare_events_) cudaEventDestroy(event);
  spare_events_.clear();
  if (staging_) cudaFreeHost(staging_);
  if (scratch_) cudaFree(scratch_);
  if (workspace_) cudaFree(workspace_);
  if (cublas_lt_) cublasLtDestroy(cublas_lt_);
  if (cublas_) cublasDestroy(cublas_);
  if (stream_) cudaStreamDestroy(stream_);
  staging_ = scratch_ = workspace_ = nullptr;
  cublas_lt_ = nullptr;
  cublas_ = nullptr;
  stream_ = nullptr;
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

void CudaBackend::synchronize() {
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  const std::lock_guard lock(staging_mutex_);
  release_staging_regions();
}

// ---- the staging ring ---------------------------------------------------------------------------------

size_t CudaBackend::acquire_staging(size_t bytes) {
  const size_t size = round_up(bytes, kStagingAlignment);
  const size_t begin = staging_head_ + size <= staging_bytes_ ? staging_head_ : 0;
  const size_t end = begin + size;
  // Events on one stream complete in order: once the youngest region overlapping [begin, end) is done, so is
  // every region older than it.
  ptrdiff_t youngest = -1;
  for (size_t i = 0; i < staging_in_flight_.size(); ++i) {
    const StagingRegion& region = staging_in_flight_[i];
    if (region.begin < end && begin < region.end) youngest = static_cast<ptrdiff_t>(i);
  }
  if (youngest >= 0) {
    CUDA_CHECK(cudaEventSynchronize(staging_in_flight_[youngest].done));
    for (ptrdiff_t i = 0; i <= youngest; ++i) {
      spare_events_.push_back(staging_in_flight_.front().done);
      staging_in_flight_.pop_front();
    }
  }
  staging_head_ = end;
  return begin;
}

void CudaBackend::release_staging_regions() {
  for (const StagingRegion& region : staging_in_flight_) spare_events_.push_back(region.done);
  staging_in_flight_.clear();
  staging_head_ = 0;
}

bool CudaBackend::upload_staged(const void* host, void* device, size_t bytes) {
  if (bytes > staging_bytes_) return false;
  const std::lock_guard lock(staging_mutex_);
  if (spare_events_.empty()) {
    cudaEvent_t event = nullptr;
    CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    spare_events_.push_back(event);
  }
  const size_t begin = acquire_staging(bytes);
  char* region = static_cast<char*>(staging_) + begin;
  std::memcpy(region, host, bytes);
  CUDA_CHECK(cudaMemcpyAsync(device, region, bytes, cudaMemcpyHostToDevice, stream_));
  const cudaEvent_t done = spare_events_.back();
  CUDA_CHECK(cudaEventRecord(done, stream_));
  spare_events_.pop_back();
  staging_in_flight_.push_back({begin, begin + round_up(bytes, kStagingAlignment), done});
  return true;
}

void CudaBackend::download(const void* device, void* host, size_t bytes) {
  if (!bytes) return;
  if (bytes > staging_bytes_) {
    // Large reads go straight to the (pageable) destination.
    CUDA_CHECK(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    const std::lock_guard lock(staging_mutex_);
    release_staging_regions();
    return;
  }
  const std::lock_guard lock(staging_mutex_);
  // The copy into the staging buffer runs after every upload queued before it (stream order), so it may
  // take any region: those uploads have read theirs by then.
  CUDA_CHECK(cudaMemcpyAsync(staging_, device, bytes, cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  release_staging_regions();
  std::memcpy(host, staging_, bytes);
}

Tensor CudaBackend::to_host(const Tensor& t) {
  expect_defined(t, "to_host", "t");
  Tensor host = Tensor::empty(t.shape(), t.dtype());
  if (!t.bytes()) return host;
  if (t.device() == Device::cpu) {
    std::memcpy(host.raw(), t.raw(), t.bytes());
    return host;
  }
  download(t.raw(), host.raw(), t.bytes());
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

}  // namespace minimind
