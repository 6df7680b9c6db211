// The optimizer step, judged and applied on the device so that the host never waits on it.
// update_decision: one thread reads the step's scalars (f64) and writes its result (step_scalars.h):
//   loss = mean_i (weighted_i / scored_i + aux_i), aux = mean_i aux_i, norm = sqrt(sum of squares),
//   clip = max_norm / (norm + 1e-6) when max_norm > 0 and that is below 1 (torch's clip_grad_norm_), else 1,
//   applied = loss and norm finite and at most their limits.
// adamw_step: decoupled AdamW over f32 params, grads, m, v, in the CPU's (torch's) order, skipped whole when
// the decision did not apply the step:
//   g = grads * clip;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p = p (1 - lr wd) - (lr / (1 - b1^step)) * m / (sqrt(v) / sqrt(1 - b2^step) + eps)
// The scalars are computed in double from the device's control values, then rounded to f32 as the CPU
// does; the element math uses explicitly rounded f32 operations (no fused multiply-adds), so each rounding
// is the CPU's. The narrower compute copy of the params, when given, is refreshed from the new values.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_types.cuh"

namespace minimind {
namespace {

using cuda::device_data;
using cuda::from_float;

__global__ void update_decision_kernel(const double* __restrict__ sum_squares,
                                       const double* __restrict__ micro_totals, int64_t micro_steps,
                                       const double* __restrict__ control, double* __restrict__ result) {
  double loss = 0.0, aux_loss = 0.0;
  for (int64_t i = 0; i < micro_steps; ++i) {
    const double* totals = micro_totals + i * kLossTotalsSize;
    const double scored = totals[kTotalsScored];
    const double aux = totals[kTotalsAuxLoss];
    loss += (scored == 0.0 ? 0.0 : totals[kTotalsWeightedLoss] / scored) + aux;
    aux_loss += aux;
  }
  loss /= static_cast<double>(micro_steps);
  aux_loss /= static_cast<double>(micro_steps);
  const double norm = sqrt(sum_squares[0]);
  const double max_norm = control[kControlMaxGradNorm];
  const double ratio = max_norm / (norm + 1e-6);
  const bool applied = isfinite(loss) && isfinite(norm) && loss <= control[kControlLossLimit] &&
                       norm <= control[kControlGradNormLimit];
  result[kResultLoss] = loss;
  result[kResultAuxLoss] = aux_loss;
  result[kResultGradNorm] = norm;
  result[kResultClipFactor] = max_norm > 0.0 && ratio < 1.0 ? ratio : 1.0;
  result[kResultApplied] = applied ? 1.0 : 0.0;
}

// The constant hyper-parameters, rounded to f32 on the host as the CPU rounds them.
struct AdamWConstants {
  double beta1, beta2, weight_decay;
  float beta1_f, beta2_f, one_minus_beta1, one_minus_beta2, eps;
};

// Out is the compute copy's element type; compute_params may be null.
template <typename Out>
__global__ void adamw_step_kernel(float* __restrict__ params, const float* __restrict__ grads,
                                  float* __restrict__ m, float* __restrict__ v, int64_t count,
                                  AdamWConstants constants, const double* __restrict__ control,
                                  const double* __restrict__ result, Out* __restrict__ compute_params) {
  if (result[kResultApplied] != 1.0) return;  // the same value for every thread: the whole grid returns
  __shared__ float decay, step_size, bias_correction2_sqrt, clip;
  if (threadIdx.x == 0) {
    const double learning_rate = control[kControlLearningRate];
    const double step = control[kControlAdamStep];
    const double bias_correction1 = 1.0 - pow(constants.beta1, step);
    const double bias_correction2 = 1.0 - pow(constants.beta2, step);
    decay = static_cast<float>(1.0 - learning_rate * constants.weight_decay);
    step_size = static_cast<float>(learning_rate / bias_correction1);
    bias_correction2_sqrt = static_cast<float>(sqrt(bias_correction2));
    clip = static_cast<float>(result[kResultClipFactor]);
  }
  __syncthreads();
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float g = __fmul_rn(grads[i], clip);
    const float m_new =
        __fadd_rn(__fmul_rn(constants.beta1_f, m[i]), __fmul_rn(constants.one_minus_beta1, g));
    const float v_new =
        __fadd_rn(__fmul_rn(constants.beta2_f, v[i]), __fmul_rn(constants.one_minus_beta2, __fmul_rn(g, g)));
    const float denominator = __fadd_rn(__fdiv_rn(__fsqrt_rn(v_new), bias_correction2_sqrt), constants.eps);
    const float p =
        __fsub_rn(__fmul_rn(params[i], decay), __fmul_rn(step_size, __fdiv_rn(m_new, denominator)));
    m[i] = m_new;
    v[i] = v_new;
    params[i] = p;
    if (compute_params) compute_params[i] = from_float<Out>(p);
  }
}

}  // namespace

void CudaBackend::do_update_decision(const Tensor& sum_squares, const Tensor& micro_totals,
                                     const Tensor& control, Tensor& result) {
  update_decision_kernel<<<1, 1, 0, stream()>>>(device_data<double>(sum_squares),
                                                device_data<double>(micro_totals), micro_totals.dim(0),
                                                device_data<double>(control), device_data<double>(result));
  CUDA_CHECK_LAUNCH("update_decision_kernel");
}

void CudaBackend::do_adamw_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v,
                                const AdamWOptions& options, const Tensor& control, const Tensor& result,
                                Tensor& compute_params) {
  const int64_t count = params.numel();
  if (count == 0) return;
  const AdamWConstants constants{options.beta1,
                                 options.beta2,
                                 options.weight_decay,
                                 static_cast<float>(options.beta1),
                                 static_cast<float>(options.beta2),
                                 static_cast<float>(1.0 - options.beta1),
                                 static_cast<float>(1.0 - options.beta2),
                                 static_cast<float>(options.eps)};
  // Enough blocks to fill the GPU; each computes the step's scalars once.
  const unsigned blocks =
      std::min(cuda::blocks_for(count), static_cast<unsigned>(std::max(1, multiprocessors()) * 16));
  const auto launch = [&](auto* out) {
    using Out = std::remove_pointer_t<decltype(out)>;
    adamw_step_kernel<Out><<<blocks, cuda::kThreads, 0, stream()>>>(
        device_data<float>(params), device_data<float>(grads), device_data<float>(m), device_data<float>(v),
        count, constants, device_data<double>(control), device_data<double>(result), out);
    CUDA_CHECK_LAUNCH("adamw_step_kernel");
  };
  if (!compute_params.defined()) {
    launch(static_cast<float*>(nullptr));
    return;
  }
  cuda::dispatch_compute(compute_params.dtype(), "adamw_step", [&](auto zero) {
    using Out = decltype(zero);
    launch(device_data<Out>(compute_params));
  });
}

}  // namespace minimind
