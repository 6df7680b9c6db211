// The sampling filters and the draw (token_filters.h), in double sums whatever the row's type.
#include "backend/token_filters.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_set>

namespace minimind {

template <typename T>
void apply_repetition_penalty(std::span<T> logits, std::span<const int32_t> context, double penalty) {
  if (penalty == 1.0) return;
  const int64_t vocab = static_cast<int64_t>(logits.size());
  // Each id once: Hugging Face gathers the context's logits and scatters the penalised values back, so a
  // repeated id is penalised once, not once per occurrence.
  std::unordered_set<int32_t> seen;
  for (int32_t id : context) {
    if (id < 0 || id >= vocab)
      throw std::invalid_argument("repetition penalty: context id " + std::to_string(id) +
                                  " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    if (!seen.insert(id).second) continue;
    T& logit = logits[static_cast<size_t>(id)];
    logit = logit < 0 ? static_cast<T>(logit * penalty) : static_cast<T>(logit / penalty);
  }
}

template <typename T>
void apply_temperature(std::span<T> logits, double temperature) {
  if (!(temperature > 0))
    throw std::invalid_argument("temperature must be > 0, got " + std::to_string(temperature));
  if (temperature == 1.0) return;
  for (T& logit : logits) logit = static_cast<T>(logit / temperature);
}

template <typename T>
void apply_top_k(std::span<T> logits, int64_t k) {
  if (k <= 0 || k >= static_cast<int64_t>(logits.size())) return;
  std::vector<T> values(logits.begin(), logits.end());
  std::nth_element(values.begin(), values.begin() + (k - 1), values.end(), std::greater<T>());
  const T kth = values[static_cast<size_t>(k - 1)];
  for (T& logit : logits)
    if (logit < kth) logit = -std::numeric_limits<T>::infinity();
}

template <typename T>
void apply_top_p(std::span<T> logits, double top_p) {
  if (top_p >= 1.0) return;
  // Tokens already filtered out have probability 0: they would be removed anyway, so only the finite ones
  // take part in the sort (after top-k that is a short list).
  std::vector<int32_t> order;
  order.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i)
    if (logits[i] != -std::numeric_limits<T>::infinity()) order.push_back(static_cast<int32_t>(i));
  if (order.size() <= 1) return;
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return logits[static_cast<size_t>(a)] < logits[static_cast<size_t>(b)] ||
           (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
  });
  const double largest = static_cast<double>(logits[static_cast<size_t>(order.back())]);
  double total = 0;
  for (int32_t id : order) total += std::exp(static_cast<double>(logits[static_cast<size_t>(id)]) - largest);
  const double threshold = 1.0 - top_p;
  double cumulative = 0;
  for (size_t i = 0; i + 1 < order.size(); ++i) {  // the most likely token always stays
    T& logit = logits[static_cast<size_t>(order[i])];
    cumulative += std::exp(static_cast<double>(logit) - largest) / total;
    if (cumulative > threshold) break;
    logit = -std::numeric_limits<T>::infinity();
  }
}

template <typename T>
int32_t argmax(std::span<const T> logits) {
  if (logits.empty()) throw std::invalid_argument("argmax: empty logits row");
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<int32_t>(best);
}

template <typename T>
std::vector<double> softmax_probabilities(std::span<const T> logits) {
  if (logits.empty()) throw std::invalid_argument("softmax: empty logits row");
  const double largest = static_cast<double>(logits[static_cast<size_t>(argmax(logits))]);
  if (!std::isfinite(largest))
    throw std::invalid_argument("softmax: the largest logit is " + std::to_string(largest));
  std::vector<double> probabilities(logits.size());
  double total = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    probabilities[i] = std::exp(static_cast<double>(logits[i]) - largest);
    total += probabilities[i];
  }
  for (double& p : probabilities) p /= total;
  return probabilities;
}

double uniform_draw(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

int32_t draw_token(std::span<const double> probabilities, double u) {
  double total = 0;
  for (double p : probabilities) total += p;
  if (!(total > 0)) throw std::invalid_argument("sample: no token has a positive probability");
  const double target = u * total;
  double cumulative = 0;
  int32_t last_positive = 0;
  for (size_t i = 0; i < probabilities.size(); ++i) {
    if (probabilities[i] <= 0) continue;
    cumulative += probabilities[i];
    last_positive = static_cast<int32_t>(i);
    if (cumulative > target) return last_positive;
  }
  return last_positive;  // rounding left u * total at the very top
}

int32_t sample_from(std::span<const double> probabilities, std::mt19937_64& rng) {
  return draw_token(probabilities, uniform_draw(rng));
}

int32_t pick_token(std::span<double> row, const TokenFilters& filters, double u,
                   const std::function<void(const char* stage)>& after_stage) {
  const std::span<const double> values(row);
  if (filters.greedy) return argmax(values);
  const auto ran = [&](const char* stage) {
    if (after_stage) after_stage(stage);
  };
  if (filters.temperature != 1.0) {
    apply_temperature(row, filters.temperature);
    ran("temperature");
  }
  if (filters.top_k > 0) {
    apply_top_k(row, filters.top_k);
    ran("top_k");
  }
  if (filters.top_p < 1.0) {
    apply_top_p(row, filters.top_p);
    ran("top_p");
  }
  if (!std::isfinite(values[static_cast<size_t>(argmax(values))])) return -1;
  return draw_token(softmax_probabilities(values), u);
}

#define MINIMIND_TOKEN_FILTERS_INSTANTIATE(T)                                                \
  template void apply_repetition_penalty<T>(std::span<T>, std::span<const int32_t>, double); \
  template void apply_temperature<T>(std::span<T>, double);                                  \
  template void apply_top_k<T>(std::span<T>, int64_t);                                       \
  template void apply_top_p<T>(std::span<T>, double);                                        \
  template int32_t argmax<T>(std::span<const T>);                                            \
  template std::vector<double> softmax_probabilities<T>(std::span<const T>);
MINIMIND_TOKEN_FILTERS_INSTANTIATE(float)
MINIMIND_TOKEN_FILTERS_INSTANTIATE(double)
#undef MINIMIND_TOKEN_FILTERS_INSTANTIATE

}  // namespace minimind
