// swiglu: out[n] = silu(gate[n]) * up[n], silu(g) = g * sigmoid(g); gate_up [N, 2I] holds gate in columns
// [0, I) and up in [I, 2I), out [N, I]. Nothing is saved beyond gate_up itself.
// Backward (d_gate_up overwritten), with s = sigmoid(gate):
//   d_gate = d_out * up * s * (1 + gate * (1 - s))          d_up = d_out * gate * s
// Rows are Eigen array maps so that exp runs in Eigen's vectorized form.
#include <Eigen/Core>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/dispatch.h"
#include "backend/cpu/openmp_thread_scope.h"

namespace minimind {
namespace {

constexpr int64_t kParallelElements = 32768;

}  // namespace

void CpuBackend::do_swiglu_forward(const Tensor& gate_up, Tensor& out) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const int64_t width = out.dim(1);
  const int64_t rows = gate_up.dim(0);

  cpu::dispatch_floating(gate_up.dtype(), "swiglu_forward", [&](auto zero) {
    using T = decltype(zero);
    using Row = Eigen::Array<T, Eigen::Dynamic, 1>;
    const T* gate_up_values = gate_up.data<T>();
    T* out_values = out.data<T>();
#pragma omp parallel for schedule(static) if (rows * width > kParallelElements)
    for (int64_t n = 0; n < rows; ++n) {
      const Eigen::Map<const Row> gate(gate_up_values + n * 2 * width, width);
      const Eigen::Map<const Row> up(gate_up_values + n * 2 * width + width, width);
      Eigen::Map<Row>(out_values + n * width, width) = gate / (T(1) + (-gate).exp()) * up;
    }
  });
}

void CpuBackend::do_swiglu_backward(const Tensor& d_out, const Tensor& gate_up, Tensor& d_gate_up) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const int64_t width = d_out.dim(1);
  const int64_t rows = gate_up.dim(0);

  cpu::dispatch_floating(gate_up.dtype(), "swiglu_backward", [&](auto zero) {
    using T = decltype(zero);
    using Row = Eigen::Array<T, Eigen::Dynamic, 1>;
    const T* gate_up_values = gate_up.data<T>();
    const T* d_out_values = d_out.data<T>();
    T* d_gate_up_values = d_gate_up.data<T>();
#pragma omp parallel for schedule(static) if (rows * width > kParallelElements)
    for (int64_t n = 0; n < rows; ++n) {
      const Eigen::Map<const Row> gate(gate_up_values + n * 2 * width, width);
      const Eigen::Map<const Row> up(gate_up_values + n * 2 * width + width, width);
      const Eigen::Map<const Row> d_row(d_out_values + n * width, width);
      Eigen::Map<Row> d_gate(d_gate_up_values + n * 2 * width, width);
      Eigen::Map<Row> d_up(d_gate_up_values + n * 2 * width + width, width);
      // d_gate holds sigmoid(gate) first: the output row doubles as scratch, so no row buffer is needed.
      d_gate = (T(1) + (-gate).exp()).inverse();
      d_up = d_row * gate * d_gate;
      d_gate = d_row * up * d_gate * (T(1) + gate * (T(1) - d_gate));
    }
  });
}

}  // namespace minimind
