// The optimizer step. update_decision judges the step from its scalars (f64 host tensors here):
//   loss = mean_m (weighted_m / scored_m + aux_m), aux = mean_m aux_m, norm = sqrt(sum of squares),
//   clip = max_norm / (norm + 1e-6) when that is below 1 and max_norm > 0 (torch's clip_grad_norm_), else 1,
//   applied = loss and norm finite and at most their limits.
// adamw_step: one decoupled AdamW step over a range of the buffer, in the order torch.optim.AdamW applies it,
// when the step is applied (else nothing):
//   g = grads * clip;  p *= 1 - lr wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p -= (lr / (1 - b1^step)) * m / (sqrt(v) / sqrt(1 - b2^step) + eps)
// with lr and step from the step's control. params, grads, m, v share one shape and dtype; m and v are the
// optimizer state, updated in place; compute_params, when defined, receives the updated params converted.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/dispatch.h"
#include "backend/cpu/openmp_thread_scope.h"
#include "tensor/convert.h"

namespace minimind {
namespace {

constexpr int64_t kParallelElements = 32768;

// The update runs as three Eigen array expressions (for their vectorized sqrt); over chunks that stay in L1
// they cost one trip through memory, like a single fused loop.
constexpr int64_t kChunkElements = 1024;

// torch.nn.utils.clip_grad_norm_ divides by norm + 1e-6.
constexpr double kClipEpsilon = 1e-6;

}  // namespace

void CpuBackend::do_update_decision(const Tensor& sum_squares, const Tensor& micro_totals,
                                    const Tensor& control, Tensor& result) {
  const double* totals = micro_totals.data<double>();
  const double* c = control.data<double>();
  const int64_t micro_steps = micro_totals.dim(0);
  // Summed in the order of the micro-steps, each divided by their count, as the trainer summed them.
  double loss = 0, aux = 0;
  for (int64_t m = 0; m < micro_steps; ++m) {
    const double* t = totals + m * kLossTotalsSize;
    const double cross_entropy = t[kTotalsScored] > 0 ? t[kTotalsWeightedLoss] / t[kTotalsScored] : 0.0;
    loss += (cross_entropy + t[kTotalsAuxLoss]) / static_cast<double>(micro_steps);
    aux += t[kTotalsAuxLoss] / static_cast<double>(micro_steps);
  }
  const double norm = std::sqrt(sum_squares.data<double>()[0]);
  const double max_norm = c[kControlMaxGradNorm];
  const double factor = max_norm / (norm + kClipEpsilon);
  const bool applied = std::isfinite(loss) && std::isfinite(norm) && loss <= c[kControlLossLimit] &&
                       norm <= c[kControlGradNormLimit];
  double* r = result.data<double>();
  r[kResultLoss] = loss;
  r[kResultAuxLoss] = aux;
  r[kResultGradNorm] = norm;
  r[kResultClipFactor] = max_norm > 0 && factor < 1.0 ? factor : 1.0;
  r[kResultApplied] = applied ? 1.0 : 0.0;
}

void CpuBackend::do_adamw_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v,
                               const AdamWOptions& options, const Tensor& control, const Tensor& result,
                               Tensor& compute_params) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const double* r = result.data<double>();
  if (r[kResultApplied] != 1.0) return;
  const double learning_rate = control.data<double>()[kControlLearningRate];
  const double step = control.data<double>()[kControlAdamStep];

  // Scalars in double, as torch computes them in Python floats.
  const double bias_correction1 = 1.0 - std::pow(options.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(options.beta2, step);

  cpu::dispatch_floating(params.dtype(), "adamw_step", [&](auto zero) {
    using T = decltype(zero);
    using Chunk = Eigen::Array<T, Eigen::Dynamic, 1>;
    // The clipped gradient of one chunk, on the stack.
    using ClippedChunk = Eigen::Array<T, Eigen::Dynamic, 1, Eigen::ColMajor, kChunkElements, 1>;
    const T decay = static_cast<T>(1.0 - learning_rate * options.weight_decay);
    const T beta1 = static_cast<T>(options.beta1);
    const T beta2 = static_cast<T>(options.beta2);
    const T one_minus_beta1 = static_cast<T>(1.0 - options.beta1);
    const T one_minus_beta2 = static_cast<T>(1.0 - options.beta2);
    const T step_size = static_cast<T>(learning_rate / bias_correction1);
    const T bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
    const T eps = static_cast<T>(options.eps);
    // The same rounding as scaling the gradient buffer by T(clip) before the update.
    const T clip = static_cast<T>(r[kResultClipFactor]);

    T* p_values = params.data<T>();
    const T* g_values = grads.data<T>();
    T* m_values = m.data<T>();
    T* v_values = v.data<T>();
    const int64_t count = params.numel();
    const int64_t chunks = (count + kChunkElements - 1) / kChunkElements;
#pragma omp parallel for schedule(static) if (count > kParallelElements)
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      const int64_t begin = chunk * kChunkElements;
      const int64_t size = std::min(kChunkElements, count - begin);
      Eigen::Map<Chunk> p(p_values + begin, size);
      const ClippedChunk g = Eigen::Map<const Chunk>(g_values + begin, size) * clip;
      Eigen::Map<Chunk> m_chunk(m_values + begin, size);
      Eigen::Map<Chunk> v_chunk(v_values + begin, size);
      m_chunk = beta1 * m_chunk + one_minus_beta1 * g;
      v_chunk = beta2 * v_chunk + one_minus_beta2 * (g * g);
      p = p * decay - step_size * (m_chunk / (v_chunk.sqrt() / bias_correction2_sqrt + eps));
    }
  });
  if (compute_params.defined()) convert_into(params, compute_params);
}

}  // namespace minimind
