// MoE dispatch on the GPU. moe_plan sorts the N K (row, choice) slots by expert with a stable counting sort
// in one block: each thread counts a contiguous chunk of the slots per expert in shared memory, the counts
// are scanned (per expert over the threads, then over the experts), and each thread walks its chunk again
// handing out slots in order. The offsets stay on the device. gather copies rows into the expert order and
// combine adds the weighted expert outputs back:
//   sorted[slot_of[n, k]] = x[n]                       (C)
//   y[n] += sum_k w[n, k] expert_out[slot_of[n, k]]    (y, expert_out C; w f32; accumulated in f32)
// Backward: d_x[n] += sum_k d_sorted[slot_of[n, k]]; d_expert_out[slot] = w d_y[n] (overwritten);
// d_topk_weight[n, k] = d_y[n] . expert_out[slot] (f32, overwritten). slot_of is a permutation of [0, N K),
// so a warp per row (or per slot) writes rows no other warp writes.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_types.cuh"
#include "backend/cuda/moe_common.cuh"

namespace minimind {
namespace cuda {
namespace {

constexpr int kRowWarps = 8;  // rows per block for the row kernels
constexpr int kMaxPlanThreads = 1024;
constexpr int64_t kMinSlotsPerPlanThread = 8;  // below this, fewer threads make the scans cheaper

// Exclusive prefix sum of values[i * stride], i in [0, n), by one warp; returns the total to every lane.
__device__ int warp_exclusive_scan(int* values, int n, int stride) {
  const int lane = threadIdx.x % kWarpSize;
  int running = 0;
  for (int base = 0; base < n; base += kWarpSize) {
    const int i = base + lane;
    const int value = i < n ? values[i * stride] : 0;
    int inclusive = value;
    for (int offset = 1; offset < kWarpSize; offset *= 2) {
      const int before = __shfl_up_sync(kFullWarp, inclusive, offset);
      if (lane >= offset) inclusive += before;
    }
    if (i < n) values[i * stride] = running + inclusive - value;
    running += __shfl_sync(kFullWarp, inclusive, kWarpSize - 1);
  }
  return running;
}

// table [E][T + 1] in shared memory: column t < T counts thread t's slots per expert, then becomes the
// thread's next slot within the expert's block; column T holds the expert's total, then its offset.
__global__ void __launch_bounds__(kMaxPlanThreads)
    plan_kernel(const int32_t* __restrict__ expert, int64_t slots, int num_experts,
                int32_t* __restrict__ offsets, int32_t* __restrict__ slot_of) {
  extern __shared__ int table[];
  const int threads = blockDim.x, t = threadIdx.x, stride = threads + 1;
  const int lane = t % kWarpSize, warp = t / kWarpSize, warps = threads / kWarpSize;
  for (int i = t; i < num_experts * stride; i += threads) table[i] = 0;
  __syncthreads();

  // Thread t owns slots [begin, end): chunks in thread order keep the sort stable.
  const int64_t chunk = (slots + threads - 1) / threads;
  const int64_t begin = t * chunk < slots ? t * chunk : slots;
  const int64_t end = begin + chunk < slots ? begin + chunk : slots;
  for (int64_t i = begin; i < end; ++i) ++table[expert[i] * stride + t];
  __syncthreads();

  for (int e = warp; e < num_experts; e += warps) {
    const int total = warp_exclusive_scan(table + e * stride, threads, 1);
    if (lane == 0) table[e * stride + threads] = total;
  }
  __syncthreads();
  if (warp == 0) {
    const int total = warp_exclusive_scan(table + threads, num_experts, stride);
    __syncwarp();
    for (int e = lane; e < num_experts; e += kWarpSize) offsets[e] = table[e * stride + threads];
    if (lane == 0) offsets[num_experts] = total;
  }
  __syncthreads();

  for (int64_t i = begin; i < end; ++i) {
    int* next = table + expert[i] * stride;
    slot_of[i] = next[threads] + next[t]++;
  }
}

// One warp per slot: sorted[slot_of[i]] = x[i / K].
template <typename T>
__global__ void gather_kernel(const T* __restrict__ x, const int32_t* __restrict__ slot_of, int64_t slots,
                              int k, int64_t hidden, T* __restrict__ sorted) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / kWarpSize);
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * (blockDim.x / kWarpSize) + threadIdx.x / kWarpSize;
       i < slots; i += warps) {
    const T* source = x + (i / k) * hidden;
    T* target = sorted + static_cast<int64_t>(slot_of[i]) * hidden;
    for (int64_t h = lane; h < hidden; h += kWarpSize) target[h] = source[h];
  }
}

// One warp per row n: d_x[n] += sum_k d_sorted[slot_of[n, k]], summed in f32 and rounded once.
template <typename T>
__global__ void gather_backward_kernel(const T* __restrict__ d_sorted, const int32_t* __restrict__ slot_of,
                                       int64_t rows, int k, int64_t hidden, T* __restrict__ d_x) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / kWarpSize);
  for (int64_t n = static_cast<int64_t>(blockIdx.x) * (blockDim.x / kWarpSize) + threadIdx.x / kWarpSize;
       n < rows; n += warps) {
    const int32_t* slot = slot_of + n * k;
    T* out = d_x + n * hidden;
    for (int64_t h = lane; h < hidden; h += kWarpSize) {
      float sum = to_float(out[h]);
      for (int j = 0; j < k; ++j) sum += to_float(d_sorted[static_cast<int64_t>(slot[j]) * hidden + h]);
      out[h] = from_float<T>(sum);
    }
  }
}

// One warp per row n: y[n] += sum_k w[n, k] expert_out[slot_of[n, k]], in f32, rounded once.
template <typename T>
__global__ void combine_forward_kernel(const T* __restrict__ expert_out,
                                       const float* __restrict__ topk_weight,
                                       const int32_t* __restrict__ slot_of, int64_t rows, int k,
                                       int64_t hidden, T* __restrict__ y) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / kWarpSize);
  for (int64_t n = static_cast<int64_t>(blockIdx.x) * (blockDim.x / kWarpSize) + threadIdx.x / kWarpSize;
       n < rows; n += warps) {
    const int32_t* slot = slot_of + n * k;
    const float* weight = topk_weight + n * k;
    T* out = y + n * hidden;
    for (int64_t h = lane; h < hidden; h += kWarpSize) {
      float sum = to_float(out[h]);
      for (int j = 0; j < k; ++j)
        sum += weight[j] * to_float(expert_out[static_cast<int64_t>(slot[j]) * hidden + h]);
      out[h] = from_float<T>(sum);
    }
  }
}

// One warp per slot i = (n, k): d_expert_out[slot] = w d_y[n], d_topk_weight[i] = d_y[n] . expert_out[slot].
template <typename T>
__global__ void combine_backward_kernel(const T* __restrict__ d_y, const T* __restrict__ expert_out,
                                        const float* __restrict__ topk_weight,
                                        const int32_t* __restrict__ slot_of, int64_t slots, int k,
                                        int64_t hidden, T* __restrict__ d_expert_out,
                                        float* __restrict__ d_topk_weight) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / kWarpSize);
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * (blockDim.x / kWarpSize) + threadIdx.x / kWarpSize;
       i < slots; i += warps) {
    const T* d_row = d_y + (i / k) * hidden;
    const int64_t slot = slot_of[i];
    const T* expert_row = expert_out + slot * hidden;
    T* d_expert_row = d_expert_out + slot * hidden;
    const float weight = topk_weight[i];
    float dot = 0.0f;
    for (int64_t h = lane; h < hidden; h += kWarpSize) {
      const float d = to_float(d_row[h]);
      d_expert_row[h] = from_float<T>(weight * d);
      dot += d * to_float(expert_row[h]);
    }
    dot = warp_sum(dot);
    if (lane == 0) d_topk_weight[i] = dot;
  }
}

constexpr unsigned kRowThreads = kRowWarps * kWarpSize;

}  // namespace
}  // namespace cuda

void CudaBackend::do_moe_plan(const Tensor& topk_index, int64_t num_experts, Tensor& expert_offsets,
                              Tensor& slot_of) {
  const int64_t slots = topk_index.numel();
  // The table holds (threads + 1) counters per expert; as many threads as fit, in whole warps.
  int shared_limit = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&shared_limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, index_));
  const int64_t counters_per_expert = shared_limit / static_cast<int64_t>(sizeof(int)) / num_experts;
  int64_t threads = (counters_per_expert - 1) / cuda::kWarpSize * cuda::kWarpSize;
  if (threads < cuda::kWarpSize)
    throw std::invalid_argument("moe_plan: " + std::to_string(num_experts) +
                                " experts need more shared memory than the CUDA plan has (" +
                                std::to_string(shared_limit) + " bytes per block)");
  const int64_t useful =
      (slots / cuda::kMinSlotsPerPlanThread + cuda::kWarpSize - 1) / cuda::kWarpSize * cuda::kWarpSize;
  threads = std::min<int64_t>({threads, cuda::kMaxPlanThreads, std::max<int64_t>(useful, cuda::kWarpSize)});
  const size_t shared_bytes = static_cast<size_t>(num_experts * (threads + 1)) * sizeof(int);
  cuda::allow_dynamic_shared_memory(cuda::plan_kernel, shared_bytes);
  cuda::plan_kernel<<<1, static_cast<unsigned>(threads), shared_bytes, stream_>>>(
      cuda::device_data<int32_t>(topk_index), slots, static_cast<int>(num_experts),
      cuda::device_data<int32_t>(expert_offsets), cuda::device_data<int32_t>(slot_of));
  CUDA_CHECK_LAUNCH("plan_kernel");
}

void CudaBackend::do_moe_gather(const Tensor& x, const Tensor& slot_of, Tensor& sorted) {
  const int64_t slots = slot_of.numel(), hidden = x.dim(1);
  if (slots == 0 || hidden == 0) return;
  cuda::dispatch_compute(x.dtype(), "moe_gather", [&](auto zero) {
    using T = decltype(zero);
    cuda::gather_kernel<T><<<cuda::row_blocks(slots, cuda::kRowWarps), cuda::kRowThreads, 0, stream_>>>(
        cuda::device_data<T>(x), cuda::device_data<int32_t>(slot_of), slots, static_cast<int>(slot_of.dim(1)),
        hidden, cuda::device_data<T>(sorted));
    CUDA_CHECK_LAUNCH("gather_kernel");
  });
}

void CudaBackend::do_moe_gather_backward(const Tensor& d_sorted, const Tensor& slot_of, Tensor& d_x) {
  const int64_t rows = d_x.dim(0), hidden = d_x.dim(1);
  if (rows == 0 || hidden == 0) return;
  cuda::dispatch_compute(d_x.dtype(), "moe_gather_backward", [&](auto zero) {
    using T = decltype(zero);
    cuda::gather_backward_kernel<T>
        <<<cuda::row_blocks(rows, cuda::kRowWarps), cuda::kRowThreads, 0, stream_>>>(
            cuda::device_data<T>(d_sorted), cuda::device_data<int32_t>(slot_of), rows,
            static_cast<int>(slot_of.dim(1)), hidden, cuda::device_data<T>(d_x));
    CUDA_CHECK_LAUNCH("gather_backward_kernel");
  });
}

void CudaBackend::do_moe_combine_forward(const Tensor& expert_out, const Tensor& topk_weight,
                                         const Tensor& slot_of, Tensor& y) {
  const int64_t rows = y.dim(0), hidden = y.dim(1);
  if (rows == 0 || hidden == 0) return;
  cuda::dispatch_compute(y.dtype(), "moe_combine_forward", [&](auto zero) {
    using T = decltype(zero);
    cuda::combine_forward_kernel<T>
        <<<cuda::row_blocks(rows, cuda::kRowWarps), cuda::kRowThreads, 0, stream_>>>(
            cuda::device_data<T>(expert_out), cuda::device_data<float>(topk_weight),
            cuda::device_data<int32_t>(slot_of), rows, static_cast<int>(slot_of.dim(1)), hidden,
            cuda::device_data<T>(y));
    CUDA_CHECK_LAUNCH("combine_forward_kernel");
  });
}

void CudaBackend::do_moe_combine_backward(const Tensor& d_y, const Tensor& expert_out,
                                          const Tensor& topk_weight, const Tensor& slot_of,
                                          Tensor& d_expert_out, Tensor& d_topk_weight) {
  const int64_t slots = slot_of.numel(), hidden = d_y.dim(1);
  if (slots == 0) return;
  cuda::dispatch_compute(d_y.dtype(), "moe_combine_backward", [&](auto zero) {
    using T = decltype(zero);
    cuda::combine_backward_kernel<T>
        <<<cuda::row_blocks(slots, cuda::kRowWarps), cuda::kRowThreads, 0, stream_>>>(
            cuda::device_data<T>(d_y), cuda::device_data<T>(expert_out),
            cuda::device_data<float>(topk_weight), cuda::device_data<int32_t>(slot_of), slots,
            static_cast<int>(slot_of.dim(1)), hidden, cuda::device_data<T>(d_expert_out),
            cuda::device_data<float>(d_topk_weight));
    CUDA_CHECK_LAUNCH("combine_backward_kernel");
  });
}

}  // namespace minimind
