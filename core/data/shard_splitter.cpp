// Seeded routing of documents to the training or validation shard.
#include "data/shard_splitter.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace minimind {
namespace {

// splitmix64's output function: a bijection of 64-bit values whose outputs pass statistical tests even
// for consecutive inputs.
uint64_t mix64(uint64_t value) {
  value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ull;
  value = (value ^ (value >> 27)) * 0x94D049BB133111EBull;
  return value ^ (value >> 31);
}

void check_fraction(double fraction) {
  if (!(fraction >= 0 && fraction <= 1))
    throw std::invalid_argument("validation split: fraction " + std::to_string(fraction) + " outside [0, 1]");
}

}  // namespace

bool is_validation_document(uint64_t document_index, const ValidationSplit& split) {
  check_fraction(split.fraction);
  const uint64_t hash = mix64(mix64(split.seed) + 0x9E3779B97F4A7C15ull * (document_index + 1));
  const double uniform = static_cast<double>(hash >> 11) * 0x1.0p-53;  // in [0, 1), 53 random bits
  return uniform < split.fraction;
}

ShardSplitter::ShardSplitter(TokenShardWriter& train, TokenShardWriter& validation, ValidationSplit split)
    : train_(train), validation_(validation), split_(split) {
  check_fraction(split.fraction);
  if (&train == &validation)
    throw std::invalid_argument("ShardSplitter: the training and validation writers are the same object");
  if (train.content().vocab_size != validation.content().vocab_size ||
      train.content().loss_mask != validation.content().loss_mask)
    throw std::invalid_argument("ShardSplitter: the training shard " + train.path().string() +
                                " and the validation shard " + validation.path().string() +
                                " differ in vocab_size or loss mask");
}

bool ShardSplitter::add_document(std::span<const int32_t> ids, std::span<const uint8_t> loss_mask) {
  const bool to_validation = is_validation_document(documents(), split_);
  // The count moves only once the writer accepted the document, so a refused document keeps its index free
  // for the next one and the routing stays a function of the accepted documents.
  if (to_validation) {
    validation_.add_document(ids, loss_mask);
    ++validation_documents_;
  } else {
    train_.add_document(ids, loss_mask);
    ++train_documents_;
  }
  return to_validation;
}

SplitCounts split_shard(const TokenShard& source, const std::filesystem::path& train_path,
                        const std::filesystem::path& validation_path, ValidationSplit split) {
  const TokenShardContent content{source.vocab_size(), source.has_loss_mask()};
  TokenShardWriter train(train_path, content);
  TokenShardWriter validation(validation_path, content);
  ShardSplitter splitter(train, validation, split);
  SplitCounts counts;
  std::vector<int32_t> ids;
  for (uint64_t i = 0; i < source.document_count(); ++i) {
    const TokenSpan document = source.document(i);
    if (document.empty()) {  // a writer refuses empty documents: counted, not copied
      ++counts.empty_documents;
      continue;
    }
    ids.resize(document.size());
    document.copy_to(ids);
    const bool to_validation = splitter.add_document(ids, source.loss_mask(i));
    (to_validation ? counts.validation_tokens : counts.train_tokens) += ids.size();
  }
  train.finish();
  validation.finish();
  counts.train_documents = splitter.train_documents();
  counts.validation_documents = splitter.validation_documents();
  return counts;
}

}  // namespace minimind
