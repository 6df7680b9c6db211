// Text generation with the KV cache: a batch of prompts is left-padded to one length and prefilled in one
// forward, then every sequence advances one token per forward until it stops (a stop id, a stop string, its
// token budget, the cache's capacity, or the caller). Text streams out piece by piece as valid UTF-8.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "infer/sampling.h"
#include "model/minimind_model.h"
#include "tokenizer/tokenizer.h"

namespace minimind {

struct GenerationOptions {
  SamplingOptions sampling;
  int64_t max_new_tokens = 128;
  // Ids that end a sequence (not part of its text); nullopt: the tokenizer's <|endoftext|> and <|im_end|>.
  std::optional<std::vector<int32_t>> stop_ids;
  // Strings that end a sequence as soon as its text contains one; the text ends before it.
  std::vector<std::string> stop_strings;
};

enum class StopReason { stop_id, stop_string, max_new_tokens, context_full, callback };
const char* stop_reason_name(StopReason reason);

struct GeneratedSequence {
  std::vector<int32_t> tokens;  // every generated id, the stop id included when one ended the sequence
  std::string text;  // what was streamed: the decoded tokens without the stop id, cut before a stop string
  StopReason stop_reason = StopReason::max_new_tokens;
  // With options.sampling.candidates > 0: per generated token, the top candidates after each sampling stage.
  std::vector<std::vector<StageCandidates>> candidates;
};

struct GenerationResult {
  std::vector<GeneratedSequence> sequences;  // one per prompt, in order
  int64_t prompt_tokens = 0;                 // the longest prompt (the prefill length)
  double prefill_seconds = 0;
  int64_t decode_steps = 0;  // forwards of one new token per sequence
  double decode_seconds = 0;
};

// Called once per generated token with the text it completes (possibly empty: bytes of an unfinished
// character or a possible start of a stop string are held back until they settle). Concatenated, the pieces
// of a sequence are its GeneratedSequence::text. Returning false stops that sequence.
using TokenCallback = std::function<bool(int64_t batch_index, int32_t token, std::string_view text_piece)>;
// As TokenCallback, with the token's top candidates after each sampling stage that ran (the same lists
// GeneratedSequence::candidates collects; empty unless options.sampling.candidates > 0), for views that show
// them while the text streams.
using TokenCandidatesCallback = std::function<bool(int64_t batch_index, int32_t token, std::string_view text_piece,
                                                   const std::vector<StageCandidates>& candidates)>;

class Generator {
 public:
  Generator(MiniMindModel& model, const Tokenizer& tokenizer);

  // Throws std::invalid_argument for an empty prompt, an id outside the model's vocabulary, a prompt that
  // does not fit max_position_embeddings, or invalid sampling options.
  GenerationResult generate(const std::vector<std::vector<int32_t>>& prompts,
                            const GenerationOptions& options, const TokenCallback& on_token = {});
  GenerationResult generate(const std::vector<std::vector<int32_t>>& prompts,
                            const GenerationOptions& options, const TokenCandidatesCallback& on_token);

  MiniMindModel& model() const { return model_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  // <|endoftext|> and <|im_end|>, those the tokenizer has.
  std::vector<int32_t> default_stop_ids() const;

 private:
  MiniMindModel& model_;
  const Tokenizer& tokenizer_;
};

}  // namespace minimind
