// The validation split on the writing side: each document goes to the training or the validation shard by a
// seeded hash of its index, so the split is deterministic, needs no second pass and keeps about `fraction` of
// the documents for validation. (A validation set from its own file needs no splitter: write it to its own
// shard.)
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

#include "data/token_shard.h"

namespace minimind {

struct ValidationSplit {
  double fraction = 0;  // in [0, 1]: the expected share of documents that go to validation
  uint64_t seed = 0;
};

// Whether document `document_index` (its position in the whole corpus, counted from 0) is a validation
// document. Every document is decided on its own: the validation count is Binomial(documents, fraction).
// Throws std::invalid_argument for a fraction outside [0, 1].
bool is_validation_document(uint64_t document_index, const ValidationSplit& split);

// Routes a stream of documents between two writers. Use one splitter for the whole corpus so that document
// indices run across all input files.
class ShardSplitter {
 public:
  ShardSplitter(TokenShardWriter& train, TokenShardWriter& validation, ValidationSplit split);

  // Adds the next document to one of the writers (see TokenShardWriter::add_document for what is refused);
  // returns true when it went to validation.
  bool add_document(std::span<const int32_t> ids, std::span<const uint8_t> loss_mask = {});

  uint64_t documents() const { return train_documents_ + validation_documents_; }
  uint64_t train_documents() const { return train_documents_; }
  uint64_t validation_documents() const { return validation_documents_; }

 private:
  TokenShardWriter& train_;
  TokenShardWriter& validation_;
  ValidationSplit split_;
  uint64_t train_documents_ = 0;
  uint64_t validation_documents_ = 0;
};

struct SplitCounts {
  uint64_t train_documents = 0, validation_documents = 0;
  uint64_t train_tokens = 0, validation_tokens = 0;
  uint64_t empty_documents = 0;  // documents without tokens in the source, which a writer does not take
};

// Carves a validation shard out of an existing shard: its documents in order, each to `train_path` or
// `validation_path` as is_validation_document decides; both files are written atomically.
SplitCounts split_shard(const TokenShard& source, const std::filesystem::path& train_path,
                        const std::filesystem::path& validation_path, ValidationSplit split);

}  // namespace minimind
