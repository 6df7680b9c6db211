// cross_entropy: losses[n] = logsumexp(logits[n]) - logits[n, targets[n]]; logits C [N, V], targets i32 [N],
// losses and logsumexp S (f32) [N], logsumexp saved for the backward. One block per row: each thread keeps
// an online (max, sum of exp(x - max)) over its strided part of the row, in f32, so the row is read once;
// the block then rescales the sums to the row's max and adds them.
// Backward: d_logits[n] = d_losses[n] * (exp(logits[n] - logsumexp[n]) - onehot(targets[n])), overwritten;
// d_logits may be logits itself (each element is read, then written, by the same thread).
// The loss: masked_loss_totals sums losses * mask and mask in f64 in one block (deterministic);
// masked_loss_backward spreads scale / scored back to the rows.
#include <cmath>

#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_types.cuh"

namespace minimind {
namespace {

using cuda::device_data;
using cuda::from_float;
using cuda::to_float;

// Wide rows (V is ~6400 and up to ~150k) need many threads per row.
constexpr int kRowThreads = 512;
// The loss totals run in one block: N is at most some tens of thousands.
constexpr int kTotalsThreads = 1024;

template <typename T>
__global__ void cross_entropy_forward_kernel(const T* __restrict__ logits,
                                             const int32_t* __restrict__ targets, float* __restrict__ losses,
                                             float* __restrict__ logsumexp, int64_t rows,
                                             int64_t vocab_size) {
  for (int64_t n = blockIdx.x; n < rows; n += gridDim.x) {
    const T* row = logits + n * vocab_size;
    float thread_max = -INFINITY;
    float thread_sum = 0.0f;  // sum of exp(x - thread_max) over this thread's elements
    for (int64_t j = threadIdx.x; j < vocab_size; j += blockDim.x) {
      const float value = to_float(row[j]);
      if (value > thread_max) {
        thread_sum = thread_sum * expf(thread_max - value) + 1.0f;
        thread_max = value;
      } else if (value != -INFINITY) {  // exp(-inf - -inf) would be NaN; a -inf logit adds 0
        thread_sum += expf(value - thread_max);
      }
    }
    const float row_max = cuda::block_max(thread_max, -INFINITY);
    // A thread that saw nothing adds nothing (its max may be -inf); a NaN sum stays NaN.
    const float rescaled = thread_sum == 0.0f ? 0.0f : thread_sum * expf(thread_max - row_max);
    const float row_sum = cuda::block_sum(rescaled);
    if (threadIdx.x == 0) {
      const float row_logsumexp = row_max + logf(row_sum);
      logsumexp[n] = row_logsumexp;
      losses[n] = row_logsumexp - to_float(row[targets[n]]);
    }
  }
}

template <typename T>
__global__ void cross_entropy_backward_kernel(const T* logits, const int32_t* __restrict__ targets,
                                              const float* __restrict__ logsumexp,
                                              const float* __restrict__ d_losses, T* d_logits, int64_t rows,
                                              int64_t vocab_size) {
  for (int64_t n = blockIdx.x; n < rows; n += gridDim.x) {
    const T* row = logits + n * vocab_size;
    T* d_row = d_logits + n * vocab_size;
    const float row_logsumexp = logsumexp[n];
    const float d_loss = d_losses[n];
    const int64_t target = targets[n];
    for (int64_t j = threadIdx.x; j < vocab_size; j += blockDim.x) {
      float gradient = d_loss * expf(to_float(row[j]) - row_logsumexp);
      if (j == target) gradient -= d_loss;
      d_row[j] = from_float<T>(gradient);
    }
  }
}

// totals[kTotalsWeightedLoss] = sum losses[n] mask[n], totals[kTotalsScored] = sum mask[n] (N without a
// mask), both in f64; totals[kTotalsAuxLoss] is left as it is. One block, fixed order: deterministic.
__global__ void masked_loss_totals_kernel(const float* __restrict__ losses, const float* __restrict__ mask,
                                          int64_t rows, double* __restrict__ totals) {
  double weighted = 0.0, scored = 0.0;
  for (int64_t n = threadIdx.x; n < rows; n += blockDim.x) {
    const double weight = mask ? static_cast<double>(mask[n]) : 1.0;
    weighted += static_cast<double>(losses[n]) * weight;
    scored += weight;
  }
  weighted = cuda::block_sum(weighted);
  scored = cuda::block_sum(scored);
  if (threadIdx.x == 0) {
    totals[kTotalsWeightedLoss] = weighted;
    totals[kTotalsScored] = scored;
  }
}

// d_losses[n] = scale[0] * mask[n] / totals[kTotalsScored], 0 when nothing is scored.
__global__ void masked_loss_backward_kernel(const float* __restrict__ mask, const double* __restrict__ totals,
                                            const double* __restrict__ scale, int64_t rows,
                                            float* __restrict__ d_losses) {
  const double scored = totals[kTotalsScored];
  const double factor = scale[0];
  for (int64_t n = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; n < rows;
       n += int64_t(gridDim.x) * blockDim.x) {
    const double weight = mask ? static_cast<double>(mask[n]) : 1.0;
    d_losses[n] = scored == 0.0 ? 0.0f : static_cast<float>(factor * weight / scored);
  }
}

}  // namespace

void CudaBackend::do_cross_entropy_forward(const Tensor& logits, const Tensor& targets, Tensor& losses,
                                           Tensor& logsumexp) {
  const int64_t rows = logits.dim(0);
  const int64_t vocab_size = logits.dim(1);
  if (rows == 0) return;
  cuda::dispatch_compute(logits.dtype(), "cross_entropy_forward", [&](auto zero) {
    using T = decltype(zero);
    cross_entropy_forward_kernel<T>
        <<<cuda::blocks_for_rows(rows), cuda::threads_for_row(vocab_size, kRowThreads), 0, stream()>>>(
            device_data<T>(logits), device_data<int32_t>(targets), device_data<float>(losses),
            device_data<float>(logsumexp), rows, vocab_size);
    CUDA_CHECK_LAUNCH("cross_entropy_forward_kernel");
  });
}

void CudaBackend::do_cross_entropy_backward(const Tensor& logits, const Tensor& targets,
                                            const Tensor& logsumexp, const Tensor& d_losses,
                                            Tensor& d_logits) {
  const int64_t rows = logits.dim(0);
  const int64_t vocab_size = logits.dim(1);
  if (rows * vocab_size == 0) return;
  cuda::dispatch_compute(logits.dtype(), "cross_entropy_backward", [&](auto zero) {
    using T = decltype(zero);
    cross_entropy_backward_kernel<T>
        <<<cuda::blocks_for_rows(rows), cuda::threads_for_row(vocab_size, kRowThreads), 0, stream()>>>(
            device_data<T>(logits), device_data<int32_t>(targets), device_data<float>(logsumexp),
            device_data<float>(d_losses), device_data<T>(d_logits), rows, vocab_size);
    CUDA_CHECK_LAUNCH("cross_entropy_backward_kernel");
  });
}

void CudaBackend::do_masked_loss_totals(const Tensor& losses, const Tensor& loss_mask, Tensor& totals) {
  const float* mask = loss_mask.defined() ? device_data<float>(loss_mask) : nullptr;
  masked_loss_totals_kernel<<<1, kTotalsThreads, 0, stream()>>>(device_data<float>(losses), mask,
                                                                losses.numel(), device_data<double>(totals));
  CUDA_CHECK_LAUNCH("masked_loss_totals_kernel");
}

void CudaBackend::do_masked_loss_backward(const Tensor& loss_mask, const Tensor& totals, const Tensor& scale,
                                          Tensor& d_losses) {
  const int64_t rows = d_losses.numel();
  if (rows == 0) return;
  const float* mask = loss_mask.defined() ? device_data<float>(loss_mask) : nullptr;
  masked_loss_backward_kernel<<<cuda::blocks_for(rows), cuda::kThreads, 0, stream()>>>(
      mask, device_data<double>(totals), device_data<double>(scale), rows, device_data<float>(d_losses));
  CUDA_CHECK_LAUNCH("masked_loss_backward_kernel");
}

}  // namespace minimind
