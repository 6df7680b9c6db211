// RoPE tables, with the seed's YaRN rescaling.
#include "model/rope_table.h"

#include <cmath>
#include <numbers>

#include "backend/cpu/dispatch.h"

namespace minimind {

namespace {

template <typename T>
std::vector<T> frequencies(const ModelConfig& config, bool apply_yarn) {
  const int64_t dim = config.head_dim();
  const int64_t half = dim / 2;
  std::vector<T> freqs(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    const T exponent = static_cast<T>(2 * i) / static_cast<T>(dim);
    freqs[i] = T(1) / std::pow(static_cast<T>(config.rope_theta), exponent);
  }
  if (!apply_yarn || !config.yarn_active()) return freqs;
  const RopeScaling& s = config.rope_scaling;
  int64_t corr_dim = half;
  for (int64_t i = 0; i < half; ++i) {
    if (static_cast<T>(2 * std::numbers::pi) / freqs[i] > static_cast<T>(s.original_max_position_embeddings)) {
      corr_dim = i;
      break;
    }
  }
  const T factor = static_cast<T>(s.factor);
  for (int64_t i = 0; i < half; ++i) {
    const T power = static_cast<T>(i) / static_cast<T>(std::max<int64_t>(half - 1, 1));
    const T beta = static_cast<T>(s.beta_slow) + (static_cast<T>(s.beta_fast) - static_cast<T>(s.beta_slow)) * power;
    const T scale = i < corr_dim ? (beta * factor - beta + T(1)) / (beta * factor) : T(1) / factor;
    freqs[i] = freqs[i] * scale;
  }
  return freqs;
}

template <typename T>
std::vector<double> as_double(const std::vector<T>& values) {
  return {values.begin(), values.end()};
}

}  // namespace

std::vector<double> rope_frequencies(const ModelConfig& config, DType dtype) {
  return cpu::dispatch_floating(dtype, "rope_frequencies",
                                [&](auto zero) { return as_double(frequencies<decltype(zero)>(config, true)); });
}

std::vector<double> rope_frequencies_unscaled(const ModelConfig& config, DType dtype) {
  return cpu::dispatch_floating(dtype, "rope_frequencies",
                                [&](auto zero) { return as_double(frequencies<decltype(zero)>(config, false)); });
}

RopeTables make_rope_tables(const ModelConfig& config, DType dtype, int64_t positions) {
  if (positions <= 0) positions = config.max_position_embeddings;
  const int64_t dim = config.head_dim();
  const int64_t half = dim / 2;
  RopeTables tables{Tensor::empty({positions, dim}, dtype), Tensor::empty({positions, dim}, dtype)};
  cpu::dispatch_floating(dtype, "make_rope_tables", [&](auto zero) {
    using T = decltype(zero);
    const std::vector<T> freqs = frequencies<T>(config, true);
    T* cos = tables.cos.data<T>();
    T* sin = tables.sin.data<T>();
#pragma omp parallel for schedule(static) if (positions > 4096)
    for (int64_t p = 0; p < positions; ++p) {
      for (int64_t i = 0; i < half; ++i) {
        // The angle is rounded to T first, as an outer product in T would.
        const T angle = static_cast<T>(p) * freqs[i];
        const T c = static_cast<T>(std::cos(static_cast<double>(angle)));
        const T s = static_cast<T>(std::sin(static_cast<double>(angle)));
        cos[p * dim + i] = cos[p * dim + i + half] = c;
        sin[p * dim + i] = sin[p * dim + i + half] = s;
      }
    }
  });
  return tables;
}

}  // namespace minimind
