// sample_tokens on the CPU: each row through the filters of token_filters.h in double, as the host Sampler
// runs them; the repetition penalty takes the ids marked in seen (each once, as the Sampler's context).
#include <cmath>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/dispatch.h"
#include "backend/token_filters.h"

namespace minimind {

void CpuBackend::do_sample_tokens(const Tensor& logits, const TokenFilters& filters, const Tensor& uniforms,
                                  Tensor& seen, Tensor& ids) {
  const int64_t rows = logits.dim(0), vocab = logits.dim(1);
  cpu::dispatch_floating(logits.dtype(), "sample_tokens", [&](auto zero) {
    using T = decltype(zero);
    std::vector<double> row(static_cast<size_t>(vocab));
    for (int64_t r = 0; r < rows; ++r) {
      const T* values = logits.data<T>() + r * vocab;
      int32_t* marks = seen.data<int32_t>() + r * vocab;
      bool has_nan = false;
      for (int64_t i = 0; i < vocab; ++i) {
        double x = static_cast<double>(values[i]);
        if (filters.repetition_penalty != 1.0 && marks[i] != 0)
          x = x < 0 ? x * filters.repetition_penalty : x / filters.repetition_penalty;
        has_nan = has_nan || std::isnan(x);
        row[static_cast<size_t>(i)] = x;
      }
      std::span<double> filtered(row);
      int32_t id = -1;
      if (has_nan) {
        // no token
      } else if (filters.greedy) {
        id = argmax(std::span<const double>(filtered));
      } else {
        apply_temperature(filtered, filters.temperature);
        apply_top_k(filtered, filters.top_k);
        apply_top_p(filtered, filters.top_p);
        const double largest = filtered[static_cast<size_t>(argmax(std::span<const double>(filtered)))];
        if (std::isfinite(largest))
          id = draw_token(softmax_probabilities(std::span<const double>(filtered)),
                          uniforms.data<double>()[r]);
      }
      ids.data<int32_t>()[r] = id;
      if (id >= 0) marks[id] = 1;
    }
  });
}

}  // namespace minimind
