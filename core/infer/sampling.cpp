// The host sampler. It copies the row into a reused double buffer before filtering, so the model's logits are
// never modified and a float row is filtered with double sums.
#include "infer/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace minimind {

TokenFilters SamplingOptions::filters() const {
  TokenFilters filters;
  filters.repetition_penalty = repetition_penalty;
  filters.greedy = is_greedy();
  filters.temperature = filters.greedy ? 1.0 : temperature;
  filters.top_k = top_k;
  filters.top_p = top_p;
  return filters;
}

void SamplingOptions::validate() const {
  auto fail = [](const std::string& message) { throw std::invalid_argument("sampling: " + message); };
  if (!(temperature >= 0) || !std::isfinite(temperature))
    fail("temperature must be >= 0 (0 = greedy), got " + std::to_string(temperature));
  if (top_k < 0) fail("top_k must be >= 0 (0 = off), got " + std::to_string(top_k));
  if (!(top_p > 0 && top_p <= 1)) fail("top_p must be in (0, 1], got " + std::to_string(top_p));
  if (!(repetition_penalty > 0) || !std::isfinite(repetition_penalty))
    fail("repetition_penalty must be > 0 (1 = off), got " + std::to_string(repetition_penalty));
  if (candidates < 0) fail("candidates must be >= 0, got " + std::to_string(candidates));
}

template <typename T>
std::vector<Candidate> top_candidates(std::span<const T> logits, int64_t count) {
  const std::vector<double> probabilities = softmax_probabilities(logits);
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  const size_t n = static_cast<size_t>(std::clamp<int64_t>(count, 0, static_cast<int64_t>(ids.size())));
  std::partial_sort(
      ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), ids.end(), [&](int32_t a, int32_t b) {
        const double pa = probabilities[static_cast<size_t>(a)], pb = probabilities[static_cast<size_t>(b)];
        return pa > pb || (pa == pb && a < b);
      });
  std::vector<Candidate> top;
  for (size_t i = 0; i < n; ++i) {
    if (probabilities[static_cast<size_t>(ids[i])] <= 0) break;  // filtered-out tokens are not candidates
    top.push_back({ids[i], probabilities[static_cast<size_t>(ids[i])]});
  }
  return top;
}

Sampler::Sampler(const SamplingOptions& options, uint64_t stream)
    : options_(options), rng_(options.seed + stream) {
  options_.validate();
}

template <typename T>
int32_t Sampler::next(std::span<const T> logits, std::span<const int32_t> context,
                      std::vector<StageCandidates>* stages) {
  const bool report = stages != nullptr && options_.candidates > 0;
  if (stages) stages->clear();
  const bool greedy = options_.is_greedy();
  // The common fast path: plain greedy decoding needs neither a copy nor a softmax.
  if (greedy && options_.repetition_penalty == 1.0 && !report) return argmax(logits);

  work_.assign(logits.begin(), logits.end());
  std::span<double> row(work_);
  auto record = [&](const char* stage) {
    if (report) stages->push_back({stage, top_candidates(std::span<const double>(row), options_.candidates)});
  };
  record("logits");
  if (options_.repetition_penalty != 1.0) {
    apply_repetition_penalty(row, context, options_.repetition_penalty);
    record("repetition_penalty");
  }
  const double u = greedy ? 0.0 : uniform_draw(rng_);  // one draw per sampled token, as sample_tokens takes
  const int32_t id = pick_token(row, options_.filters(), u, record);
  if (id < 0) throw std::invalid_argument("sample: no finite logit is left to draw from");
  return id;
}

#define MINIMIND_SAMPLING_INSTANTIATE(T)                                          \
  template std::vector<Candidate> top_candidates<T>(std::span<const T>, int64_t); \
  template int32_t Sampler::next<T>(std::span<const T>, std::span<const int32_t>, \
                                    std::vector<StageCandidates>*);
MINIMIND_SAMPLING_INSTANTIATE(float)
MINIMIND_SAMPLING_INSTANTIATE(double)
#undef MINIMIND_SAMPLING_INSTANTIATE

}  // namespace minimind
