// The filters of next-token sampling over one row of logits, as Hugging Face's generate applies them, and the
// draw that ends it. Each works in place on a row (float or double) so that tests can check the exact token
// set it keeps; a filtered-out token's logit becomes -infinity. The host sampler (infer/sampling.h) and the
// CPU backend's sample_tokens both use them; the CUDA backend's kernel follows them step by step.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <vector>

namespace minimind {

// How a row of logits becomes a token: Hugging Face's filters in its order.
struct TokenFilters {
  double repetition_penalty = 1.0;  // > 0; 1: off
  bool greedy = false;              // the argmax after the penalty; the rest is then unused
  double temperature = 1.0;         // > 0
  int64_t top_k = 0;                // keep the logits >= the k-th largest; 0: off
  double top_p = 1.0;               // in (0, 1]; 1: off
};

// CTRL's penalty on ids already in the context: a positive logit is divided by `penalty`, a negative one
// multiplied (each id once, however often it occurs). Ids outside the row throw std::invalid_argument.
template <typename T>
void apply_repetition_penalty(std::span<T> logits, std::span<const int32_t> context, double penalty);

// logits / temperature (temperature > 0).
template <typename T>
void apply_temperature(std::span<T> logits, double temperature);

// Keeps the logits >= the k-th largest (so ties with the k-th are all kept, as torch.topk + `< kth` masking
// does); k <= 0 or k >= the row length keeps everything.
template <typename T>
void apply_top_k(std::span<T> logits, int64_t k);

// Hugging Face's TopPLogitsWarper: sort ascending, take the softmax's cumulative sums and remove the tokens
// whose cumulative probability is <= 1 - top_p, never the most likely one. What is kept is the smallest set
// of most likely tokens whose probabilities add up to >= top_p. Equal logits are ordered by id (a lower id
// sorts first in the ascending order, so it is removed first). top_p >= 1 keeps everything.
template <typename T>
void apply_top_p(std::span<T> logits, double top_p);

// The index of the largest logit (the lowest index among equals, as torch.argmax).
template <typename T>
int32_t argmax(std::span<const T> logits);

// softmax(logits) in double; -infinity entries get probability 0.
template <typename T>
std::vector<double> softmax_probabilities(std::span<const T> logits);

// One uniform draw in [0, 1) from the generator: u = (rng() >> 11) * 2^-53. Spelt out rather than taken from
// std::uniform_real_distribution so that a seed gives the same tokens with every standard library.
double uniform_draw(std::mt19937_64& rng);

// The token id a uniform draw u in [0, 1) picks from `probabilities` (non-negative, not all zero, need not
// sum to 1): the first id whose cumulative sum, in id order, exceeds u * total.
int32_t draw_token(std::span<const double> probabilities, double u);

// draw_token with u = uniform_draw(rng).
int32_t sample_from(std::span<const double> probabilities, std::mt19937_64& rng);

// What follows the repetition penalty, on an already penalised row: the argmax when greedy; else temperature,
// top-k and top-p, each only when it is on (after_stage, when given, is called with its name once it has
// run), then draw_token with `u` over the softmax of what is left. -1 when no finite logit is left to draw
// from. Both the host Sampler and the CPU backend's sample_tokens pick through this.
int32_t pick_token(std::span<double> row, const TokenFilters& filters, double u,
                   const std::function<void(const char* stage)>& after_stage = {});

}  // namespace minimind
