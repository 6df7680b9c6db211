// MoE router on the GPU, one warp per token row (the lanes stride over the E experts):
//   scores f32 [N, E] = softmax(logits f32 [N, E]);
//   topk_index i32 [N, K] = the K best experts, descending score, ties to the lower index;
//   topk_weight f32 [N, K] = their scores, divided by (sum + 1e-20) when normalize and K > 1.
// The backward recomputes the normalization from the saved scores and topk_index (as the CPU does):
//   d_s = d_scores (or 0), plus on the chosen experts: g_k (no normalization) or (g_k - g.w) / (S + eps);
//   d_logits = s * (d_s - d_s.s).
#include <cfloat>
#include <climits>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_types.cuh"
#include "backend/cuda/moe_common.cuh"

namespace minimind {
namespace cuda {
namespace {

// The seed model adds this to the sum of the top-k scores before dividing; the backward uses it too.
constexpr float kNormalizeEpsilon = 1e-20f;
constexpr int kRouterWarps = 8;  // rows per block

// The rank of a score in the top-k order. A softmax row is either free of NaN or all NaN (a NaN or infinite
// logit spoils the sum); NaN ranks as -1, below every score, so an all-NaN row picks experts 0..K-1 as on
// the CPU, and the indices are always valid.
__device__ __forceinline__ float rank_key(float score) {
  return isnan(score) ? -1.0f : score;
}

// Whether (key_a, a) comes before (key_b, b) in the top-k order: higher key first, then lower index.
__device__ __forceinline__ bool ranks_before(float key_a, int a, float key_b, int b) {
  return key_a > key_b || (key_a == key_b && a < b);
}

// scores may be logits (in place): each element is read by the lane that then writes it.
__global__ void router_forward_kernel(const float* logits, int64_t rows, int num_experts, int k, bool divide,
                                      float* scores, int32_t* __restrict__ topk_index,
                                      float* __restrict__ topk_weight) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / kWarpSize);
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / kWarpSize) + threadIdx.x / kWarpSize;
       row < rows; row += warps) {
    const float* in = logits + row * num_experts;
    float* prob = scores + row * num_experts;

    // Softmax. fmaxf skips NaN like the CPU's std::max(max, x); each lane reads back only what it wrote.
    float max_logit = -INFINITY;
    for (int e = lane; e < num_experts; e += kWarpSize) max_logit = fmaxf(max_logit, in[e]);
    max_logit = warp_max(max_logit);
    float sum = 0.0f;
    for (int e = lane; e < num_experts; e += kWarpSize) {
      const float p = expf(in[e] - max_logit);
      prob[e] = p;
      sum += p;
    }
    const float inverse = 1.0f / warp_sum(sum);
    for (int e = lane; e < num_experts; e += kWarpSize) prob[e] *= inverse;

    // Top-k by K rounds of a warp arg-max: round j takes the best expert ranking after round j-1's choice
    // in the total order (key desc, index asc), so no mask of chosen experts is needed.
    int32_t* chosen = topk_index + row * k;
    float* weight = topk_weight + row * k;
    float previous_key = INFINITY;
    int previous = -1;
    float chosen_sum = 0.0f;
    for (int j = 0; j < k; ++j) {
      float best_key = -INFINITY, best_score = 0.0f;
      int best = INT_MAX;
      for (int e = lane; e < num_experts; e += kWarpSize) {
        const float score = prob[e];
        const float key = rank_key(score);
        if (ranks_before(previous_key, previous, key, e) && ranks_before(key, e, best_key, best)) {
          best_key = key;
          best = e;
          best_score = score;
        }
      }
      for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
        const float other_key = __shfl_xor_sync(kFullWarp, best_key, offset);
        const int other = __shfl_xor_sync(kFullWarp, best, offset);
        const float other_score = __shfl_xor_sync(kFullWarp, best_score, offset);
        if (ranks_before(other_key, other, best_key, best)) {
          best_key = other_key;
          best = other;
          best_score = other_score;
        }
      }
      // Lane j % 32 owns slot j: it writes it now and rescales it below, reading only its own writes.
      if (lane == j % kWarpSize) {
        chosen[j] = best;
        weight[j] = best_score;
      }
      chosen_sum += best_score;
      previous_key = best_key;
      previous = best;
    }
    if (divide) {
      const float denominator = chosen_sum + kNormalizeEpsilon;
      for (int j = lane; j < k; j += kWarpSize) weight[j] /= denominator;
    }
  }
}

// d_logits may be d_scores (in place), as on the CPU.
__global__ void router_backward_kernel(const float* __restrict__ d_topk_weight, const float* d_scores,
                                       const float* __restrict__ scores,
                                       const int32_t* __restrict__ topk_index, int64_t rows, int num_experts,
                                       int k, bool divided, float* d_logits) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / kWarpSize);
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / kWarpSize) + threadIdx.x / kWarpSize;
       row < rows; row += warps) {
    const float* prob = scores + row * num_experts;
    const int32_t* chosen = topk_index + row * k;
    const float* g = d_topk_weight + row * k;
    float* d = d_logits + row * num_experts;

    // The gradient reaching chosen slot j is g_j (no normalization) or (g_j - g.w) / (S + eps).
    float denominator = 1.0f, g_dot_w = 0.0f;
    if (divided) {
      float chosen_sum = 0.0f;
      for (int j = lane; j < k; j += kWarpSize) chosen_sum += prob[chosen[j]];
      denominator = warp_sum(chosen_sum) + kNormalizeEpsilon;
      float dot = 0.0f;
      for (int j = lane; j < k; j += kWarpSize) dot += g[j] * (prob[chosen[j]] / denominator);
      g_dot_w = warp_sum(dot);
    }

    // Each lane gathers the gradient of its own experts (no scatter between lanes; a repeated index adds
    // twice, as on the CPU), then the softmax backward.
    float d_dot_s = 0.0f;
    for (int e = lane; e < num_experts; e += kWarpSize) {
      float total = d_scores ? d_scores[row * num_experts + e] : 0.0f;
      for (int j = 0; j < k; ++j)
        if (chosen[j] == e) total += divided ? (g[j] - g_dot_w) / denominator : g[j];
      d[e] = total;
      d_dot_s += total * prob[e];
    }
    d_dot_s = warp_sum(d_dot_s);
    for (int e = lane; e < num_experts; e += kWarpSize) d[e] = prob[e] * (d[e] - d_dot_s);
  }
}

}  // namespace
}  // namespace cuda

void CudaBackend::do_moe_router_forward(const Tensor& logits, bool normalize, Tensor& scores,
                                        Tensor& topk_index, Tensor& topk_weight) {
  const int64_t rows = logits.dim(0);
  const int num_experts = static_cast<int>(logits.dim(1)), k = static_cast<int>(topk_index.dim(1));
  if (rows == 0) return;
  cuda::router_forward_kernel<<<cuda::row_blocks(rows, cuda::kRouterWarps),
                                cuda::kRouterWarps * cuda::kWarpSize, 0, stream_>>>(
      cuda::device_data<float>(logits), rows, num_experts, k, normalize && k > 1,
      cuda::device_data<float>(scores), cuda::device_data<int32_t>(topk_index),
      cuda::device_data<float>(topk_weight));
  CUDA_CHECK_LAUNCH("router_forward_kernel");
}

void CudaBackend::do_moe_router_backward(const Tensor& d_topk_weight, const Tensor& d_scores,
                                         const Tensor& scores, const Tensor& topk_index, bool normalize,
                                         Tensor& d_logits) {
  const int64_t rows = scores.dim(0);
  const int num_experts = static_cast<int>(scores.dim(1)), k = static_cast<int>(topk_index.dim(1));
  if (rows == 0) return;
  cuda::router_backward_kernel<<<cuda::row_blocks(rows, cuda::kRouterWarps),
                                 cuda::kRouterWarps * cuda::kWarpSize, 0, stream_>>>(
      cuda::device_data<float>(d_topk_weight),
      d_scores.defined() ? cuda::device_data<float>(d_scores) : nullptr, cuda::device_data<float>(scores),
      cuda::device_data<int32_t>(topk_index), rows, num_experts, k, normalize && k > 1,
      cuda::device_data<float>(d_logits));
  CUDA_CHECK_LAUNCH("router_backward_kernel");
}

}  // namespace minimind
