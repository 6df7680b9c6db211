// Reference: is_validation_document as the definition of the routing (the splitter must follow it document by
// document), the binomial distribution for the share it selects (a 5-sigma band), and the documents
// themselves (every one lands in exactly one shard, in order, with its mask).
#include "data/shard_splitter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/data/shard_files.h"
#include "support/scratch_directory.h"

namespace minimind {
namespace {

using testing::Document;
using testing::write_shard;

std::vector<Document> numbered_documents(int count, bool with_mask) {
  std::vector<Document> documents;
  for (int i = 0; i < count; ++i) {
    Document document{{i % 1000, 1 + i % 7, 2}, {}};
    if (with_mask) document.loss_mask = {0, static_cast<uint8_t>(i % 2), 1};
    documents.push_back(document);
  }
  return documents;
}

TEST(ValidationSplit, SelectsAboutTheFractionDeterministically) {
  constexpr uint64_t kDocuments = 20000;
  for (const double fraction : {0.01, 0.1, 0.5}) {
    uint64_t selected = 0;
    for (uint64_t i = 0; i < kDocuments; ++i) {
      const bool chosen = is_validation_document(i, {fraction, 42});
      EXPECT_EQ(chosen, is_validation_document(i, {fraction, 42}));
      selected += chosen;
    }
    const double expected = kDocuments * fraction;
    const double sigma = std::sqrt(kDocuments * fraction * (1 - fraction));
    EXPECT_NEAR(static_cast<double>(selected), expected, 5 * sigma) << "fraction " << fraction;
  }
}

TEST(ValidationSplit, SeedsChooseDifferentDocumentsAndTheEndsAreExact) {
  uint64_t differing = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    differing += is_validation_document(i, {0.5, 1}) != is_validation_document(i, {0.5, 2});
    EXPECT_FALSE(is_validation_document(i, {0.0, 1}));
    EXPECT_TRUE(is_validation_document(i, {1.0, 1}));
  }
  EXPECT_GT(differing, 400u);  // independent choices differ about half the time
  EXPECT_LT(differing, 600u);
  for (const double bad : {-0.1, 1.5, std::numeric_limits<double>::quiet_NaN()})
    EXPECT_THROW(is_validation_document(0, {bad, 1}), std::invalid_argument);
}

TEST(ValidationSplit, SplitterRoutesEachDocumentOnceInOrder) {
  ScratchDirectory directory;
  const std::vector<Document> documents = numbered_documents(300, true);
  const ValidationSplit split{0.2, 9};
  TokenShardWriter train(directory / "train.shard", {.vocab_size = 1000, .loss_mask = true});
  TokenShardWriter validation(directory / "validation.shard", {.vocab_size = 1000, .loss_mask = true});
  ShardSplitter splitter(train, validation, split);
  std::vector<Document> expected_train, expected_validation;
  for (size_t i = 0; i < documents.size(); ++i) {
    // A refused document takes no index: the routing stays a function of the accepted ones.
    EXPECT_THROW(splitter.add_document(std::vector<int32_t>{5000}, std::vector<uint8_t>{1}),
                 std::invalid_argument);
    const bool to_validation = splitter.add_document(documents[i].ids, documents[i].loss_mask);
    EXPECT_EQ(to_validation, is_validation_document(i, split)) << "document " << i;
    (to_validation ? expected_validation : expected_train).push_back(documents[i]);
  }
  train.finish();
  validation.finish();
  EXPECT_EQ(splitter.documents(), 300u);
  EXPECT_EQ(splitter.validation_documents(), expected_validation.size());
  EXPECT_GT(expected_validation.size(), 0u);
  EXPECT_GT(expected_train.size(), 0u);

  for (const auto& [name, expected] :
       {std::pair{"train.shard", expected_train}, std::pair{"validation.shard", expected_validation}}) {
    const TokenShard shard = TokenShard::open(directory / name);
    ASSERT_EQ(shard.document_count(), expected.size()) << name;
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(shard.document(i).to_vector(), expected[i].ids);
      const auto mask = shard.loss_mask(i);
      EXPECT_EQ(std::vector<uint8_t>(mask.begin(), mask.end()), expected[i].loss_mask);
    }
  }
}

TEST(ValidationSplit, SplitsAnExistingShard) {
  ScratchDirectory directory;
  const std::vector<Document> documents = numbered_documents(200, false);
  write_shard(directory / "all.shard", {.vocab_size = 1000}, documents);
  const TokenShard source = TokenShard::open(directory / "all.shard");
  const SplitCounts counts =
      split_shard(source, directory / "train.shard", directory / "valid.shard", {0.25, 3});
  const TokenShard train = TokenShard::open(directory / "train.shard");
  const TokenShard validation = TokenShard::open(directory / "valid.shard");
  EXPECT_EQ(counts.train_documents + counts.validation_documents, 200u);
  EXPECT_EQ(counts.train_tokens + counts.validation_tokens, source.token_count());
  EXPECT_EQ(train.document_count(), counts.train_documents);
  EXPECT_EQ(validation.document_count(), counts.validation_documents);
  EXPECT_EQ(validation.token_count(), counts.validation_tokens);
  EXPECT_EQ(counts.empty_documents, 0u);
  uint64_t next_train = 0, next_validation = 0;
  for (uint64_t i = 0; i < 200; ++i) {
    const bool to_validation = is_validation_document(i, {0.25, 3});
    const TokenShard& shard = to_validation ? validation : train;
    uint64_t& next = to_validation ? next_validation : next_train;
    EXPECT_EQ(shard.document(next++).to_vector(), documents[i].ids) << "document " << i;
  }
  EXPECT_FALSE(train.has_loss_mask());
  EXPECT_EQ(train.vocab_size(), 1000u);
}

TEST(ValidationSplit, WritersMustMatch) {
  ScratchDirectory directory;
  TokenShardWriter train(directory / "a", {.vocab_size = 100});
  TokenShardWriter other_vocab(directory / "b", {.vocab_size = 200});
  TokenShardWriter with_mask(directory / "c", {.vocab_size = 100, .loss_mask = true});
  EXPECT_THROW(ShardSplitter(train, other_vocab, {0.1, 0}), std::invalid_argument);
  EXPECT_THROW(ShardSplitter(train, with_mask, {0.1, 0}), std::invalid_argument);
  EXPECT_THROW(ShardSplitter(train, train, {0.1, 0}), std::invalid_argument);
  TokenShardWriter validation(directory / "d", {.vocab_size = 100});
  EXPECT_THROW(ShardSplitter(train, validation, {2.0, 0}), std::invalid_argument);
}

}  // namespace
}  // namespace minimind
