// CPU backend: the device it reports, memory, copies, elementwise ops and reductions. The model's ops live
// in their own files. Arguments reach the do_ ops checked (backend.cpp).
#include "backend/cpu/cpu_backend.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>

#include "backend/cpu/dispatch.h"
#include "backend/cpu/dropout_seed.h"
#include "backend/cpu/openmp_thread_scope.h"
#include "io/system_memory.h"
#include "tensor/convert.h"

namespace minimind {
namespace {

constexpr int64_t kParallelElements = 32768;

// The value of the first line of `path` that starts with `key` and a colon ("model name : ..."), trimmed;
// "" when there is none.
std::string proc_value(const char* path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const size_t colon = line.find(':', key.size());
    if (colon == std::string::npos || line.find_first_not_of(" \t", key.size()) != colon) continue;
    const size_t begin = line.find_first_not_of(" \t", colon + 1);
    if (begin == std::string::npos) return "";
    const size_t end = line.find_last_not_of(" \t\r");
    return line.substr(begin, end - begin + 1);
  }
  return "";
}

}  // namespace

CpuBackend::CpuBackend(int threads) : threads_(threads > 0 ? threads : omp_get_max_threads()) {}

DeviceInfo CpuBackend::device_info() {
  DeviceInfo info;
  info.name = proc_value("/proc/cpuinfo", "model name");
  if (info.name.empty()) info.name = "CPU";
  // MemTotal is in kB ("MemTotal:  16314732 kB").
  try {
    info.total_bytes = std::stoll(proc_value("/proc/meminfo", "MemTotal")) * 1024;
  } catch (const std::exception&) {
    info.total_bytes = 0;  // no /proc: the figure is unknown
  }
  try {
    const SystemMemory memory = read_system_memory();
    if (memory.cgroup && (info.total_bytes == 0 || memory.cgroup->limit_bytes < info.total_bytes))
      info.total_bytes = memory.cgroup->limit_bytes;
    info.free_bytes = memory.available_bytes();
  } catch (const std::exception&) {
    info.free_bytes = 0;
  }
  return info;
}

Tensor CpuBackend::empty(Shape shape, DType dtype) { return Tensor::empty(std::move(shape), dtype); }

Tensor CpuBackend::to_host(const Tensor& t) {
  return t;
}

void CpuBackend::do_zero(Tensor& t) {
  if (t.bytes()) std::memset(t.raw(), 0, t.bytes());
}

// Host to host; floating dtypes convert as tensor/convert.h does (rounding to nearest even).
void CpuBackend::do_copy(const Tensor& src, Tensor& dst) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  convert_into(src, dst);
}

void CpuBackend::do_add(Tensor& y, const Tensor& x) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  cpu::dispatch_floating(y.dtype(), "add", [&](auto zero) {
    using T = decltype(zero);
    T* out = y.data<T>();
    const T* in = x.data<T>();
    const int64_t n = y.numel();
#pragma omp parallel for schedule(static) if (n > kParallelElements)
    for (int64_t i = 0; i < n; ++i) out[i] += in[i];
  });
}

void CpuBackend::do_scale(Tensor& y, double factor) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  cpu::dispatch_floating(y.dtype(), "scale", [&](auto zero) {
    using T = decltype(zero);
    T* out = y.data<T>();
    const T f = static_cast<T>(factor);
    const int64_t n = y.numel();
#pragma omp parallel for schedule(static) if (n > kParallelElements)
    for (int64_t i = 0; i < n; ++i) out[i] *= f;
  });
}

void CpuBackend::do_sum_squares(const Tensor& x, Tensor& out) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  out.data<double>()[0] = cpu::dispatch_floating(x.dtype(), "sum_squares", [&](auto zero) {
    using T = decltype(zero);
    const T* in = x.data<T>();
    const int64_t n = x.numel();
    double total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total) if (n > kParallelElements)
    for (int64_t i = 0; i < n; ++i) total += static_cast<double>(in[i]) * static_cast<double>(in[i]);
    return total;
  });
}

void CpuBackend::do_dropout(Tensor& x, const Dropout& dropout) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const uint64_t seed = cpu::site_seed(dropout);
  cpu::dispatch_floating(x.dtype(), "dropout", [&](auto zero) {
    using T = decltype(zero);
    T* values = x.data<T>();
    const uint32_t threshold = dropout_threshold(dropout.probability);
    const T keep_scale = static_cast<T>(1.0 / (1.0 - dropout.probability));
    const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > kParallelElements)
    for (int64_t i = 0; i < n; ++i)
      values[i] = dropout_keep(seed, static_cast<uint64_t>(i), threshold) ? values[i] * keep_scale : T(0);
  });
}

}  // namespace minimind
