// CPU backend: memory, elementwise ops and reductions. The model's ops live in their own files.
#include "backend/cpu/cpu_backend.h"

#include <omp.h>

#include <cstring>
#include <stdexcept>

#include "backend/cpu/dispatch.h"
#include "backend/cpu/openmp_thread_scope.h"

namespace minimind {

CpuBackend::CpuBackend(int threads) : threads_(threads > 0 ? threads : omp_get_max_threads()) {}

Tensor CpuBackend::empty(Shape shape, DType dtype) { return Tensor::empty(std::move(shape), dtype); }

void CpuBackend::zero(Tensor& t) {
  expect_defined(t, "zero", "t");
  if (t.bytes()) std::memset(t.raw(), 0, t.bytes());
}

void CpuBackend::copy(const Tensor& src, Tensor& dst) {
  expect_defined(src, "copy", "src");
  expect_dtype(dst, src.dtype(), "copy", "dst");
  if (dst.numel() != src.numel())
    throw std::invalid_argument("copy: " + src.describe() + " into " + dst.describe() + " (element counts differ)");
  if (src.device() != Device::cpu || dst.device() != Device::cpu)
    throw std::invalid_argument("copy: the CPU backend copies host tensors only, got " + src.describe());
  if (src.bytes() && src.raw() != dst.raw()) std::memmove(dst.raw(), src.raw(), src.bytes());
}

Tensor CpuBackend::to_host(const Tensor& t) { return t; }

void CpuBackend::add(Tensor& y, const Tensor& x) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  expect_shape(x, y.shape(), "add", "x");
  expect_dtype(x, y.dtype(), "add", "x");
  cpu::dispatch_floating(y.dtype(), "add", [&](auto zero) {
    using T = decltype(zero);
    T* out = y.data<T>();
    const T* in = x.data<T>();
    const int64_t n = y.numel();
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; ++i) out[i] += in[i];
  });
}

void CpuBackend::scale(Tensor& y, double factor) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  cpu::dispatch_floating(y.dtype(), "scale", [&](auto zero) {
    using T = decltype(zero);
    T* out = y.data<T>();
    const T f = static_cast<T>(factor);
    const int64_t n = y.numel();
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; ++i) out[i] *= f;
  });
}

double CpuBackend::sum_squares(const Tensor& x) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  return cpu::dispatch_floating(x.dtype(), "sum_squares", [&](auto zero) {
    using T = decltype(zero);
    const T* in = x.data<T>();
    const int64_t n = x.numel();
    double total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total) if (n > 32768)
    for (int64_t i = 0; i < n; ++i) total += static_cast<double>(in[i]) * static_cast<double>(in[i]);
    return total;
  });
}

void CpuBackend::dropout(Tensor& x, const Dropout& dropout) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  if (!dropout.active()) return;
  if (dropout.probability >= 1.0) throw std::invalid_argument("dropout: probability must be below 1");
  cpu::dispatch_floating(x.dtype(), "dropout", [&](auto zero) {
    using T = decltype(zero);
    T* values = x.data<T>();
    const uint32_t threshold = dropout_threshold(dropout.probability);
    const T keep_scale = static_cast<T>(1.0 / (1.0 - dropout.probability));
    const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; ++i)
      values[i] = dropout_keep(dropout.seed, static_cast<uint64_t>(i), threshold) ? values[i] * keep_scale : T(0);
  });
}

}  // namespace minimind
