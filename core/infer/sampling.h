// Turning a row of next-token logits into one token id, as Hugging Face's generate does: the repetition
// penalty, then temperature, top-k and top-p (nucleus) filters, then a draw from the softmax of what is left.
// Each filter is a separate function over a logits row (float or double) so that tests can check the exact
// token set it keeps; a filtered-out token's logit becomes -infinity.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace minimind {

struct SamplingOptions {
  double temperature = 1.0;         // > 0; 0 means greedy
  int64_t top_k = 0;                // keep the k largest logits (0: off)
  double top_p = 1.0;               // in (0, 1]; 1: off
  double repetition_penalty = 1.0;  // > 0; 1: off
  bool greedy = false;              // argmax after the repetition penalty
  uint64_t seed = 0;
  int64_t candidates = 0;  // report the top-N tokens after each filter stage (0: none)

  bool is_greedy() const { return greedy || temperature == 0.0; }
  // Throws std::invalid_argument naming the first option out of range.
  void validate() const;
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

// A token id drawn from `probabilities` (non-negative, not all zero, need not sum to 1) with one uniform draw
// u = (rng() >> 11) * 2^-53 in [0, 1): the first id whose cumulative sum exceeds u * total. The draw is spelt
// out rather than taken from std::uniform_real_distribution so that a seed gives the same tokens with every
// standard library.
int32_t sample_from(std::span<const double> probabilities, std::mt19937_64& rng);

struct Candidate {
  int32_t id = 0;
  double probability = 0;
};

// The most likely tokens after one stage of the sampler: "logits" (the raw softmax), "repetition_penalty",
// "temperature", "top_k", "top_p". Probabilities are renormalised over what the stage kept.
struct StageCandidates {
  std::string stage;
  std::vector<Candidate> top;
};

// The top `count` tokens of a logits row by probability (descending; equal ones by id).
template <typename T>
std::vector<Candidate> top_candidates(std::span<const T> logits, int64_t count);

// One sequence's sampler: the filters in Hugging Face's order and a seeded generator.
class Sampler {
 public:
  // Validates `options`. The generator is seeded with options.seed + stream, so that the sequences of a batch
  // draw independently and a sequence draws the same tokens in a batch as alone (same stream).
  explicit Sampler(const SamplingOptions& options, uint64_t stream = 0);

  // The next token for `logits` (one row, vocabulary-sized) after `context` (the prompt and what was
  // generated, for the repetition penalty). When `stages` is non-null and options.candidates > 0 it receives
  // the top candidates after each stage that ran.
  template <typename T>
  int32_t next(std::span<const T> logits, std::span<const int32_t> context,
               std::vector<StageCandidates>* stages = nullptr);

  const SamplingOptions& options() const { return options_; }

 private:
  SamplingOptions options_;
  std::mt19937_64 rng_;
  std::vector<double> work_;  // the row being filtered, reused from token to token
};

}  // namespace minimind
