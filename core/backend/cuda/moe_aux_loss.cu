// MoE load-balancing loss on the GPU, over G groups of rows (seq_aux: the B sequences of T rows; else one
// group of all N rows), scores f32 [N, E], topk_index i32 [N, K]:
//   aux += alpha E / (R^2 K G) * sum_g sum_e count[g, e] * sum_{n in g} scores[n, e],   R = rows per group,
// which is the CPU's alpha mean_g sum_e (count E / (R K)) mean_n scores. The counts carry no gradient, so
//   d_scores[n, e] = d_aux * alpha E / (R^2 K G) * count[g(n), e].
// Counts are made in shared memory (integer atomics, exact); nothing is allocated. The forward is one block
// that visits the groups in order and reduces in a fixed order (f64), so it is deterministic; the loss
// reads each score once, and N E is small next to the step's products.
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_types.cuh"
#include "backend/cuda/moe_common.cuh"

namespace minimind {
namespace cuda {
namespace {

constexpr int kAuxForwardThreads = 1024;
constexpr int kAuxBackwardThreads = 256;
constexpr int64_t kAuxBackwardElementsPerBlock = 1 << 16;
constexpr int64_t kAuxBackwardMaxChunks = 64;

// count[e] = how often expert e is chosen among `rows` rows of topk_index (i32 [rows, K]). Every thread of
// the block calls it; the counts are ready when it returns.
__device__ void count_choices(const int32_t* topk_index, int64_t rows, int k, int num_experts, int* count) {
  for (int e = threadIdx.x; e < num_experts; e += blockDim.x) count[e] = 0;
  __syncthreads();
  for (int64_t i = threadIdx.x; i < rows * k; i += blockDim.x) atomicAdd(&count[topk_index[i]], 1);
  __syncthreads();
}

__global__ void __launch_bounds__(kAuxForwardThreads)
    aux_loss_forward_kernel(const float* __restrict__ scores, const int32_t* __restrict__ topk_index,
                            int64_t groups, int64_t rows_per_group, int num_experts, int k, double scale,
                            double* __restrict__ aux) {
  extern __shared__ int count[];
  const int64_t group_elements = rows_per_group * num_experts;
  // Thread i visits elements i, i + blockDim, ... of each group; its expert advances by blockDim mod E.
  const int expert_step = static_cast<int>(blockDim.x % num_experts);
  double partial = 0.0;
  for (int64_t g = 0; g < groups; ++g) {
    count_choices(topk_index + g * rows_per_group * k, rows_per_group, k, num_experts, count);
    const float* group_scores = scores + g * group_elements;
    int e = static_cast<int>(threadIdx.x % num_experts);
    for (int64_t i = threadIdx.x; i < group_elements; i += blockDim.x) {
      partial += static_cast<double>(count[e]) * static_cast<double>(group_scores[i]);
      e += expert_step;
      if (e >= num_experts) e -= num_experts;
    }
    __syncthreads();  // the next group's counts overwrite these
  }
  const double total = block_sum(partial);
  if (threadIdx.x == 0) aux[0] += scale * total;
}

// Block (g, chunk) counts group g's choices and writes its chunk of the group's gradient rows.
__global__ void __launch_bounds__(kAuxBackwardThreads)
    aux_loss_backward_kernel(const int32_t* __restrict__ topk_index, int64_t rows_per_group, int num_experts,
                             int k, double scale, const double* __restrict__ d_aux,
                             float* __restrict__ d_scores) {
  extern __shared__ int count[];
  const int64_t g = blockIdx.x;
  count_choices(topk_index + g * rows_per_group * k, rows_per_group, k, num_experts, count);
  const double factor = d_aux[0] * scale;
  const int64_t group_elements = rows_per_group * num_experts;
  const int64_t chunk = (group_elements + gridDim.y - 1) / gridDim.y;
  const int64_t begin = blockIdx.y * chunk;
  const int64_t end = begin + chunk < group_elements ? begin + chunk : group_elements;
  float* out = d_scores + g * group_elements;
  const int expert_step = static_cast<int>(blockDim.x % num_experts);
  int e = static_cast<int>((begin + threadIdx.x) % num_experts);
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    out[i] = static_cast<float>(factor * static_cast<double>(count[e]));
    e += expert_step;
    if (e >= num_experts) e -= num_experts;
  }
}

struct AuxGroups {
  int64_t groups;
  int64_t rows_per_group;
  double scale;  // alpha E / (R^2 K G)
};

AuxGroups aux_groups(int64_t rows, int64_t num_experts, int64_t k, int64_t batch, bool seq_aux,
                     double alpha) {
  AuxGroups plan{};
  plan.groups = seq_aux ? batch : 1;
  plan.rows_per_group = rows / plan.groups;
  const double group_rows = static_cast<double>(plan.rows_per_group);
  plan.scale = alpha * static_cast<double>(num_experts) /
               (group_rows * group_rows * static_cast<double>(k) * static_cast<double>(plan.groups));
  return plan;
}

}  // namespace
}  // namespace cuda

void CudaBackend::do_moe_aux_loss_forward(const Tensor& scores, const Tensor& topk_index, int64_t batch,
                                          bool seq_aux, double alpha, Tensor& aux) {
  const int64_t rows = scores.dim(0), num_experts = scores.dim(1), k = topk_index.dim(1);
  if (rows == 0) return;
  const cuda::AuxGroups plan = cuda::aux_groups(rows, num_experts, k, batch, seq_aux, alpha);
  const size_t shared_bytes = static_cast<size_t>(num_experts) * sizeof(int);
  cuda::allow_dynamic_shared_memory(cuda::aux_loss_forward_kernel, shared_bytes);
  cuda::aux_loss_forward_kernel<<<1, cuda::kAuxForwardThreads, shared_bytes, stream_>>>(
      cuda::device_data<float>(scores), cuda::device_data<int32_t>(topk_index), plan.groups,
      plan.rows_per_group, static_cast<int>(num_experts), static_cast<int>(k), plan.scale,
      cuda::device_data<double>(aux));
  CUDA_CHECK_LAUNCH("aux_loss_forward_kernel");
}

void CudaBackend::do_moe_aux_loss_backward(const Tensor& topk_index, int64_t batch, bool seq_aux,
                                           double alpha, const Tensor& d_aux, Tensor& d_scores) {
  const int64_t rows = d_scores.dim(0), num_experts = d_scores.dim(1), k = topk_index.dim(1);
  if (rows == 0) return;
  const cuda::AuxGroups plan = cuda::aux_groups(rows, num_experts, k, batch, seq_aux, alpha);
  const int64_t group_elements = plan.rows_per_group * num_experts;
  int64_t chunks =
      (group_elements + cuda::kAuxBackwardElementsPerBlock - 1) / cuda::kAuxBackwardElementsPerBlock;
  if (chunks < 1) chunks = 1;
  if (chunks > cuda::kAuxBackwardMaxChunks) chunks = cuda::kAuxBackwardMaxChunks;
  const size_t shared_bytes = static_cast<size_t>(num_experts) * sizeof(int);
  cuda::allow_dynamic_shared_memory(cuda::aux_loss_backward_kernel, shared_bytes);
  const dim3 grid(static_cast<unsigned>(plan.groups), static_cast<unsigned>(chunks));
  cuda::aux_loss_backward_kernel<<<grid, cuda::kAuxBackwardThreads, shared_bytes, stream_>>>(
      cuda::device_data<int32_t>(topk_index), plan.rows_per_group, static_cast<int>(num_experts),
      static_cast<int>(k), plan.scale, cuda::device_data<double>(d_aux), cuda::device_data<float>(d_scores));
  CUDA_CHECK_LAUNCH("aux_loss_backward_kernel");
}

}  // namespace minimind
