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
      const double u = filters.greedy ? 0.0 : uniforms.data<double>()[r];
      const int32_t id = has_nan ? -1 : pick_token(row, filters, u);
      ids.data<int32_t>()[r] = id;
      if (id >= 0) marks[id] = 1;
    }
  });
}

}  // namespace minimind
