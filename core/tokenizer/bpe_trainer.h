// Trains a byte-level BPE model exactly as Hugging Face's BpeTrainer does behind a ByteLevel pre-tokenizer
// (add_prefix_space = false) with the full byte alphabet as initial alphabet: special tokens take ids 0..,
// then the 256 byte characters in code point order, then one token per merge; merges go by pair count, ties
// to the smaller (left id, right id). The same texts and options give the same vocab and merges, id for id.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/bpe_model.h"

namespace minimind {

struct BpeTrainerOptions {
  // Special tokens + the 256 byte characters + merged tokens. Merging stops when the vocab reaches this size;
  // the special tokens and the alphabet are always all there, even when they alone exceed it.
  int64_t vocab_size = 6400;
  // Ids 0.. in this order; a repeated one counts once. None may be empty.
  std::vector<std::string> special_tokens;
  // Merging stops at the first best pair that occurs fewer times than this.
  int64_t min_frequency = 0;
  // Stages "Tokenize words" and "Count pairs" (done/total in distinct words) and "Compute merges" (done/total
  // in tokens added); `done` strictly increases within a stage, and a stage that ran to completion ends with
  // done == total (merging may stop early: too few pairs, min_frequency). Called on the training thread.
  std::function<void(std::string_view stage, int64_t done, int64_t total)> progress;
};

class BpeTrainer {
 public:
  // Throws std::invalid_argument for a negative vocab_size or min_frequency or an empty special token.
  explicit BpeTrainer(BpeTrainerOptions options);
  ~BpeTrainer();
  BpeTrainer(BpeTrainer&&) noexcept;
  BpeTrainer& operator=(BpeTrainer&&) noexcept;

  // Counts the pre-tokens of one document (one item of Hugging Face's train_from_iterator). Only the word
  // counts are kept, so a corpus of any size streams through in pieces; feeding a document in pieces equals
  // feeding it whole when every cut falls where the pre-tokenizer splits anyway (e.g. before " word").
  void feed(std::string_view text);

  // Runs the merges over everything fed so far. The trainer keeps its word counts: train() may be called
  // again (with the same result) and more text may be fed in between.
  BpeModel train() const;

  int64_t unique_words() const;  // distinct pre-tokens fed so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace minimind
