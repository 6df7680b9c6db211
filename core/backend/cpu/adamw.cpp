// adamw: one decoupled AdamW step over whole buffers, in the order torch.optim.AdamW applies it:
//   p *= 1 - lr wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p -= (lr / (1 - b1^step)) * m / (sqrt(v) / sqrt(1 - b2^step) + eps)
// params, grads, m, v share one shape and dtype; m and v are the optimizer state, updated in place.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/dispatch.h"
#include "backend/cpu/openmp_thread_scope.h"

namespace minimind {
namespace {

constexpr int64_t kParallelElements = 32768;

// The update runs as three Eigen array expressions (for their vectorized sqrt); over chunks that stay in L1
// they cost one trip through memory, like a single fused loop.
constexpr int64_t kChunkElements = 1024;

}  // namespace

void CpuBackend::adamw_step(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v,
                            const AdamWOptions& options) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  expect_defined(params, "adamw_step", "params");
  expect_shape(grads, params.shape(), "adamw_step", "grads");
  expect_dtype(grads, params.dtype(), "adamw_step", "grads");
  expect_shape(m, params.shape(), "adamw_step", "m");
  expect_dtype(m, params.dtype(), "adamw_step", "m");
  expect_shape(v, params.shape(), "adamw_step", "v");
  expect_dtype(v, params.dtype(), "adamw_step", "v");
  if (options.step < 1)
    throw std::invalid_argument("adamw_step: options.step is 1-based, got " + std::to_string(options.step));

  // Scalars in double, as torch computes them in Python floats.
  const double bias_correction1 = 1.0 - std::pow(options.beta1, static_cast<double>(options.step));
  const double bias_correction2 = 1.0 - std::pow(options.beta2, static_cast<double>(options.step));

  cpu::dispatch_floating(params.dtype(), "adamw_step", [&](auto zero) {
    using T = decltype(zero);
    using Chunk = Eigen::Array<T, Eigen::Dynamic, 1>;
    const T decay = static_cast<T>(1.0 - options.learning_rate * options.weight_decay);
    const T beta1 = static_cast<T>(options.beta1);
    const T beta2 = static_cast<T>(options.beta2);
    const T one_minus_beta1 = static_cast<T>(1.0 - options.beta1);
    const T one_minus_beta2 = static_cast<T>(1.0 - options.beta2);
    const T step_size = static_cast<T>(options.learning_rate / bias_correction1);
    const T bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
    const T eps = static_cast<T>(options.eps);

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
      const Eigen::Map<const Chunk> g(g_values + begin, size);
      Eigen::Map<Chunk> m_chunk(m_values + begin, size);
      Eigen::Map<Chunk> v_chunk(v_values + begin, size);
      m_chunk = beta1 * m_chunk + one_minus_beta1 * g;
      v_chunk = beta2 * v_chunk + one_minus_beta2 * (g * g);
      p = p * decay - step_size * (m_chunk / (v_chunk.sqrt() / bias_correction2_sqrt + eps));
    }
  });
}

}  // namespace minimind
