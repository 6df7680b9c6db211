// Turning a row of next-token logits into one token id on the host, as Hugging Face's generate does: the
// repetition penalty, then temperature, top-k and top-p (nucleus) filters (backend/token_filters.h), then a
// draw from the softmax of what is left; with the top candidates after each stage for the views that show
// them. Generation without candidates runs the same filters on the model's device (Backend::sample_tokens).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "backend/token_filters.h"

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
  // The same choice as the filters sample_tokens takes.
  TokenFilters filters() const;
  // Throws std::invalid_argument naming the first option out of range.
  void validate() const;
};

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

  // The uniform draw next() would make for its next sampled (not greedy) token, taken from the generator:
  // for sampling on a device with the same tokens as next() (Backend::sample_tokens).
  double draw_uniform() { return uniform_draw(rng_); }

  const SamplingOptions& options() const { return options_; }

 private:
  SamplingOptions options_;
  std::mt19937_64 rng_;
  std::vector<double> work_;  // the row being filtered, reused from token to token
};

}  // namespace minimind
