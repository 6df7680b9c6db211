// Measures the matrix-product peak: random operands (zeros run faster than real data on some GPUs), one
// untimed product, then the median of several timed ones, each ended by a synchronize.
#include "cli/matmul_peak.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include "tensor/convert.h"

namespace minimind::cli {

MatmulPeak measure_matmul_peak(Backend& backend, DType dtype) {
  MatmulPeak peak;
  peak.size = backend.device() == Device::cuda ? 8192 : 1024;
  const int64_t n = peak.size;
  Tensor host = Tensor::empty({n, n}, DType::f32);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (float& x : host.span<float>()) x = uniform(rng);
  Tensor a = backend.empty({n, n}, dtype), b = backend.empty({n, n}, dtype), out = backend.empty({n, n}, dtype);
  backend.copy(host, a);
  backend.copy(host, b);
  std::vector<double> seconds;
  for (int repeat = 0; repeat < 6; ++repeat) {
    backend.synchronize();
    const auto start = std::chrono::steady_clock::now();
    backend.matmul(a, false, b, true, out, false);
    backend.synchronize();
    if (repeat > 0)
      seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  peak.flops_per_s = 2.0 * static_cast<double>(n) * n * n / seconds[seconds.size() / 2];
  return peak;
}

}  // namespace minimind::cli
