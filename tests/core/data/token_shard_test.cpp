// Reference: the format's layout as documented in token_shard.h (sizes computed by hand), the documents as
// written (a round trip must give them back exactly), and deliberately damaged files, each of which must be
// refused with a TokenShardError naming the file and the field.
#include "data/token_shard.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/data/shard_files.h"
#include "support/scratch_directory.h"

namespace minimind {
namespace {

using testing::Document;
using testing::field;
using testing::read_bytes;
using testing::reseal;
using testing::set_field;
using testing::write_bytes;
using testing::write_shard;

// Header field offsets, from the table in token_shard.h.
constexpr size_t kVersion = 8, kTokenBytes = 12, kFlags = 16, kVocab = 20, kTokenCount = 24,
                 kDocumentCount = 32, kFileBytes = 40, kReserved = 52;

void expect_documents(const TokenShard& shard, const std::vector<Document>& documents) {
  ASSERT_EQ(shard.document_count(), documents.size());
  uint64_t tokens = 0;
  for (size_t i = 0; i < documents.size(); ++i) {
    EXPECT_EQ(shard.document(i).to_vector(), documents[i].ids) << "document " << i;
    EXPECT_EQ(shard.document_size(i), documents[i].ids.size());
    const auto mask = shard.loss_mask(i);
    EXPECT_EQ(std::vector<uint8_t>(mask.begin(), mask.end()), documents[i].loss_mask) << "document " << i;
    EXPECT_EQ(shard.document_offsets()[i], tokens);
    tokens += documents[i].ids.size();
  }
  EXPECT_EQ(shard.document_offsets().back(), tokens);
  EXPECT_EQ(shard.token_count(), tokens);
  EXPECT_EQ(shard.tokens().size(), tokens);
}

// Expects open() to refuse the file with a TokenShardError whose message names the path and `field_name`.
void expect_refused(const std::filesystem::path& path, const std::string& field_name,
                    bool verify_payload = true) {
  try {
    TokenShard::open(path, {.verify_payload = verify_payload});
    ADD_FAILURE() << "opened a damaged shard; expected an error naming " << field_name;
  } catch (const TokenShardError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find(field_name), std::string::npos)
        << "expected the field " << field_name << ": " << message;
  }
}

const std::vector<Document> kPretrain = {{{0, 1, 2}, {}}, {{6399}, {}}, {{5, 5, 5, 5, 5}, {}}};
const std::vector<Document> kSft = {{{1, 10, 11, 2}, {0, 0, 1, 1}}, {{1, 20, 2}, {0, 1, 1}}};

TEST(TokenShard, RoundTripUint16) {
  ScratchDirectory directory;
  const auto path = directory / "pretrain.shard";
  write_shard(path, {.vocab_size = 6400}, kPretrain);
  const TokenShard shard = TokenShard::open(path);
  EXPECT_EQ(shard.vocab_size(), 6400u);
  EXPECT_EQ(shard.token_bytes(), 2);
  EXPECT_FALSE(shard.has_loss_mask());
  EXPECT_TRUE(shard.loss_mask().empty());
  expect_documents(shard, kPretrain);
  // 64 header + 9 tokens * 2 = 82, padded to 88, + 4 offsets * 8 = 120.
  EXPECT_EQ(std::filesystem::file_size(path), 120u);
  EXPECT_EQ(directory.file_names(), std::vector<std::string>{"pretrain.shard"});
}

TEST(TokenShard, RoundTripUint32) {
  ScratchDirectory directory;
  const auto path = directory / "wide.shard";
  const std::vector<Document> documents = {{{0, 65535, 65536, 69999}, {}}, {{123456 % 70000}, {}}};
  write_shard(path, {.vocab_size = 70000}, documents);
  const TokenShard shard = TokenShard::open(path);
  EXPECT_EQ(shard.token_bytes(), 4);
  EXPECT_EQ(shard.vocab_size(), 70000u);
  expect_documents(shard, documents);
  EXPECT_EQ(std::filesystem::file_size(path), 64u + 5 * 4 + 4 /* padding */ + 3 * 8);
}

TEST(TokenShard, TokenWidthFollowsTheVocabularySize) {
  EXPECT_EQ(token_bytes_for_vocab(6400), 2);
  EXPECT_EQ(token_bytes_for_vocab(65536), 2);
  EXPECT_EQ(token_bytes_for_vocab(65537), 4);
  ScratchDirectory directory;
  write_shard(directory / "a", {.vocab_size = 65536}, {{{65535, 0}, {}}});
  write_shard(directory / "b", {.vocab_size = 65537}, {{{65536, 0}, {}}});
  EXPECT_EQ(TokenShard::open(directory / "a").token_bytes(), 2);
  EXPECT_EQ(TokenShard::open(directory / "a").document(0).to_vector(), (std::vector<int32_t>{65535, 0}));
  EXPECT_EQ(TokenShard::open(directory / "b").token_bytes(), 4);
  EXPECT_EQ(TokenShard::open(directory / "b").document(0).to_vector(), (std::vector<int32_t>{65536, 0}));
}

TEST(TokenShard, SftLossMaskRoundTrip) {
  ScratchDirectory directory;
  const auto path = directory / "sft.shard";
  write_shard(path, {.vocab_size = 6400, .loss_mask = true}, kSft);
  const TokenShard shard = TokenShard::open(path);
  EXPECT_TRUE(shard.has_loss_mask());
  expect_documents(shard, kSft);
  EXPECT_EQ(shard.loss_mask().size(), 7u);
  // 64 + 7 * 2 tokens + 7 mask bytes = 85, padded to 88, + 3 offsets * 8 = 112.
  EXPECT_EQ(std::filesystem::file_size(path), 112u);
}

TEST(TokenShard, LargeShardCrossesTheWriteBuffers) {
  // More than a megabyte of tokens and of mask, in documents of random lengths, exercises every flush.
  ScratchDirectory directory;
  std::mt19937 random(3);
  std::vector<Document> documents;
  size_t tokens = 0;
  while (tokens < 1'200'000) {
    Document document;
    const size_t size = 1 + random() % 5000;
    for (size_t i = 0; i < size; ++i) {
      document.ids.push_back(static_cast<int32_t>(random() % 100000));
      document.loss_mask.push_back(static_cast<uint8_t>(random() % 2));
    }
    tokens += size;
    documents.push_back(std::move(document));
  }
  write_shard(directory / "large.shard", {.vocab_size = 100000, .loss_mask = true}, documents);
  const TokenShard shard = TokenShard::open(directory / "large.shard");
  expect_documents(shard, documents);
}

TEST(TokenShard, EmptyShards) {
  ScratchDirectory directory;
  write_shard(directory / "empty", {.vocab_size = 10}, {});
  write_shard(directory / "empty-sft", {.vocab_size = 10, .loss_mask = true}, {});
  const TokenShard empty = TokenShard::open(directory / "empty");
  EXPECT_EQ(empty.document_count(), 0u);
  EXPECT_EQ(empty.token_count(), 0u);
  EXPECT_EQ(std::filesystem::file_size(directory / "empty"), 72u);
  EXPECT_TRUE(TokenShard::open(directory / "empty-sft").has_loss_mask());
  EXPECT_THROW(empty.document(0), std::out_of_range);
}

TEST(TokenShard, WriterRefusesBadDocumentsAndKeepsGoing) {
  ScratchDirectory directory;
  const auto path = directory / "sft.shard";
  TokenShardWriter writer(path, {.vocab_size = 100, .loss_mask = true});
  EXPECT_THROW(writer.add_document(std::vector<int32_t>{1, 100}, std::vector<uint8_t>{1, 1}),
               std::invalid_argument);
  EXPECT_THROW(writer.add_document(std::vector<int32_t>{-1}, std::vector<uint8_t>{1}), std::invalid_argument);
  EXPECT_THROW(writer.add_document(std::vector<int32_t>{1, 2}), std::invalid_argument);  // mask missing
  EXPECT_THROW(writer.add_document(std::vector<int32_t>{1, 2}, std::vector<uint8_t>{1}),
               std::invalid_argument);
  EXPECT_THROW(writer.add_document(std::vector<int32_t>{1, 2}, std::vector<uint8_t>{1, 2}),
               std::invalid_argument);
  EXPECT_THROW(writer.add_document(std::vector<int32_t>{}, std::vector<uint8_t>{}), std::invalid_argument);
  writer.add_document(std::vector<int32_t>{7, 99}, std::vector<uint8_t>{0, 1});
  EXPECT_EQ(writer.document_count(), 1u);
  EXPECT_EQ(writer.token_count(), 2u);
  writer.finish();
  EXPECT_TRUE(writer.finished());
  EXPECT_THROW(writer.add_document(std::vector<int32_t>{1}, std::vector<uint8_t>{1}), std::logic_error);
  EXPECT_THROW(writer.finish(), std::logic_error);
  expect_documents(TokenShard::open(path), {{{7, 99}, {0, 1}}});

  TokenShardWriter plain(directory / "plain.shard", {.vocab_size = 100});
  try {
    plain.add_document(std::vector<int32_t>{1, 2}, std::vector<uint8_t>{1, 1});
    FAIL() << "a mask on a shard without one was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("plain.shard"), std::string::npos) << error.what();
  }
  EXPECT_THROW(TokenShardWriter(directory / "x", {.vocab_size = 0}), std::invalid_argument);
  EXPECT_THROW(TokenShardWriter(directory / "x", {.vocab_size = kTokenShardMaxVocab + 1}),
               std::invalid_argument);
  EXPECT_THROW(TokenShardWriter(directory / "no-such-directory" / "x", {.vocab_size = 10}),
               std::system_error);
}

TEST(TokenShard, UnfinishedWriterLeavesNoFile) {
  ScratchDirectory directory;
  {
    TokenShardWriter writer(directory / "sft.shard", {.vocab_size = 100, .loss_mask = true});
    writer.add_document(std::vector<int32_t>{1, 2, 3}, std::vector<uint8_t>{0, 1, 1});
  }
  {
    TokenShardWriter writer(directory / "pretrain.shard", {.vocab_size = 100});
    writer.add_document(std::vector<int32_t>{1, 2, 3});
  }
  EXPECT_TRUE(directory.file_names().empty());

  // An existing shard stays as it was until finish() replaces it whole.
  write_shard(directory / "pretrain.shard", {.vocab_size = 100}, {{{4, 5}, {}}});
  {
    TokenShardWriter writer(directory / "pretrain.shard", {.vocab_size = 100});
    writer.add_document(std::vector<int32_t>{6, 7, 8});
    expect_documents(TokenShard::open(directory / "pretrain.shard"), {{{4, 5}, {}}});
  }
  expect_documents(TokenShard::open(directory / "pretrain.shard"), {{{4, 5}, {}}});
  TokenShardWriter writer(directory / "pretrain.shard", {.vocab_size = 100});
  writer.add_document(std::vector<int32_t>{6, 7, 8});
  writer.finish();
  expect_documents(TokenShard::open(directory / "pretrain.shard"), {{{6, 7, 8}, {}}});
  EXPECT_EQ(directory.file_names(), std::vector<std::string>{"pretrain.shard"});
}

TEST(TokenShard, EveryTruncationIsRefused) {
  ScratchDirectory directory;
  for (const bool sft : {false, true}) {
    const auto path = directory / "shard";
    if (sft)
      write_shard(path, {.vocab_size = 70000, .loss_mask = true}, {{{1, 2, 3}, {1, 0, 1}}, {{69999}, {1}}});
    else
      write_shard(path, {.vocab_size = 6400}, kPretrain);
    const std::vector<std::byte> bytes = read_bytes(path);
    const auto damaged = directory / "damaged";
    for (size_t size = 0; size < bytes.size(); ++size) {
      write_bytes(damaged, std::span(bytes).first(size));
      SCOPED_TRACE("truncated to " + std::to_string(size) + " of " + std::to_string(bytes.size()) + " bytes");
      expect_refused(damaged, size < kTokenShardHeaderBytes ? "header" : "file_bytes", true);
      expect_refused(damaged, size < kTokenShardHeaderBytes ? "header" : "file_bytes", false);
    }
    std::vector<std::byte> longer = bytes;
    longer.push_back(std::byte{0});
    write_bytes(damaged, longer);
    expect_refused(damaged, "trailing data");
  }
}

// Writes the small pretraining shard, lets `damage` change its bytes, and returns the damaged file's path.
template <typename Damage>
std::filesystem::path damaged_shard(const ScratchDirectory& directory, Damage damage, bool sft = false) {
  const auto path = directory / "damaged.shard";
  if (sft)
    write_shard(path, {.vocab_size = 6400, .loss_mask = true}, kSft);
  else
    write_shard(path, {.vocab_size = 6400}, kPretrain);
  std::vector<std::byte> bytes = read_bytes(path);
  damage(bytes);
  write_bytes(path, bytes);
  return path;
}

TEST(TokenShard, HeaderDamageIsRefused) {
  ScratchDirectory directory;
  expect_refused(damaged_shard(directory, [](auto& b) { b[0] = std::byte{'X'}; }), "magic");
  expect_refused(damaged_shard(directory, [](auto& b) { set_field<uint32_t>(b, kVersion, 2); }), "version");
  expect_refused(damaged_shard(directory, [](auto& b) { set_field<uint32_t>(b, kVocab, 6000); }),
                 "header_crc32c");
  expect_refused(damaged_shard(directory, [](auto& b) { b[61] ^= std::byte{1}; }), "header_crc32c");
  // Resealed, so the field's own check is the one that fires.
  const auto resealed = [&](size_t at, auto value) {
    return damaged_shard(directory, [&](auto& b) {
      set_field(b, at, value);
      reseal(b);
    });
  };
  expect_refused(resealed(kTokenBytes, uint32_t{3}), "token_bytes");
  expect_refused(resealed(kTokenBytes, uint32_t{4}), "token_bytes");  // 4 bytes for a 6400-entry vocabulary
  expect_refused(resealed(kFlags, uint32_t{2}), "flags");
  expect_refused(resealed(kVocab, uint32_t{0}), "vocab_size");
  expect_refused(resealed(kVocab, kTokenShardMaxVocab + 1), "vocab_size");
  expect_refused(resealed(kReserved, uint64_t{1}), "reserved");
  expect_refused(resealed(kFileBytes, uint64_t{121}), "file_bytes");
  expect_refused(resealed(kFileBytes, ~uint64_t{0}), "file_bytes");
}

TEST(TokenShard, CountsInconsistentWithTheSizeAreRefused) {
  ScratchDirectory directory;
  for (const bool sft : {false, true}) {
    for (const int64_t change : {-7, -3, -2, -1, 1, 2, 3, 7}) {
      SCOPED_TRACE("token_count changed by " + std::to_string(change) + (sft ? " (sft)" : ""));
      const auto path = damaged_shard(
          directory,
          [&](auto& b) {
            set_field<uint64_t>(b, kTokenCount, field<uint64_t>(b, kTokenCount) + change);
            reseal(b);
          },
          sft);
      // Either the counts no longer fill the file, or the offsets no longer end at token_count.
      EXPECT_THROW(TokenShard::open(path), TokenShardError);
      EXPECT_THROW(TokenShard::open(path, {.verify_payload = false}), TokenShardError);
    }
  }
  const auto with = [&](size_t at, uint64_t value) {
    return damaged_shard(directory, [&](auto& b) {
      set_field(b, at, value);
      reseal(b);
    });
  };
  expect_refused(with(kTokenCount, 16), "token_count");  // 16 tokens would make a 128-byte file
  expect_refused(with(kTokenCount, ~uint64_t{0}), "token_count");
  expect_refused(with(kTokenCount, uint64_t{1} << 63), "token_count");
  expect_refused(with(kDocumentCount, 4), "document_count");
  expect_refused(with(kDocumentCount, 2), "token_count");  // fits, but describes a smaller file
  expect_refused(with(kDocumentCount, ~uint64_t{0}), "document_count");
  expect_refused(with(kDocumentCount, (~uint64_t{0}) / 8), "document_count");
}

TEST(TokenShard, DocumentBoundariesMustRunFromZeroToTheTokenCountWithoutDecreasing) {
  ScratchDirectory directory;
  // The offsets of the small pretraining shard are {0, 3, 4, 9} at byte 88.
  constexpr size_t kOffsets = 88;
  const auto offsets = [&](std::vector<uint64_t> values) {
    return damaged_shard(directory, [&](auto& b) {
      for (size_t i = 0; i < values.size(); ++i) set_field(b, kOffsets + 8 * i, values[i]);
      reseal(b);
    });
  };
  for (const bool verify : {true, false}) {
    expect_refused(offsets({0, 4, 3, 9}), "document_offsets[2]", verify);
    expect_refused(offsets({1, 3, 4, 9}), "document_offsets[0]", verify);
    expect_refused(offsets({0, 3, 4, 8}), "document_offsets[3]", verify);
    expect_refused(offsets({0, 3, 4, 10}), "document_offsets[3]", verify);
    expect_refused(offsets({0, 3, ~uint64_t{0}, 9}), "document_offsets[3]", verify);
  }
  // Not decreasing is enough: an empty document is a valid (if useless) one.
  const TokenShard shard = TokenShard::open(offsets({0, 3, 3, 9}));
  EXPECT_EQ(shard.document_size(1), 0u);
  EXPECT_EQ(shard.document(2).to_vector(), (std::vector<int32_t>{6399, 5, 5, 5, 5, 5}));
}

TEST(TokenShard, PayloadDamageIsRefused) {
  ScratchDirectory directory;
  // A changed token: the checksum catches it; without payload verification it reads as changed.
  const auto flipped = damaged_shard(directory, [](auto& b) { b[64] ^= std::byte{0x01}; });
  expect_refused(flipped, "payload_crc32c");
  EXPECT_EQ(TokenShard::open(flipped, {.verify_payload = false}).document(0)[0], 1);

  const auto resealed = [&](size_t at, std::byte value, bool sft = false) {
    return damaged_shard(
        directory,
        [&](auto& b) {
          b[at] = value;
          reseal(b);
        },
        sft);
  };
  // Token 3 is 6399 at bytes 70..71; 0x19ff -> 0x1a00 = 6656 >= 6400.
  const auto high_id = damaged_shard(directory, [](auto& b) {
    set_field<uint16_t>(b, 70, 6656);
    reseal(b);
  });
  expect_refused(high_id, "tokens[3]");
  expect_refused(resealed(82, std::byte{1}), "padding");  // bytes 82..87 pad the tokens to 88
  // SFT: the mask of 7 tokens lies at bytes 78..84; 2 is not a mask value.
  expect_refused(resealed(80, std::byte{2}, true), "loss_mask[2]");
}

TEST(TokenShard, TokenSpanBounds) {
  ScratchDirectory directory;
  write_shard(directory / "s", {.vocab_size = 6400}, kPretrain);
  const TokenShard shard = TokenShard::open(directory / "s");
  const TokenSpan document = shard.document(2);
  EXPECT_EQ(document.subspan(1, 3).to_vector(), (std::vector<int32_t>{5, 5, 5}));
  EXPECT_EQ(document.subspan(5, 0).size(), 0u);
  EXPECT_THROW(document.subspan(4, 2), std::out_of_range);
  EXPECT_THROW(document.subspan(6, 0), std::out_of_range);
  std::vector<int32_t> small(2);
  EXPECT_THROW(document.copy_to(small), std::invalid_argument);
  EXPECT_THROW(shard.document(3), std::out_of_range);
  EXPECT_THROW(shard.loss_mask(3), std::out_of_range);
  EXPECT_THROW(TokenShard::open(directory / "missing"), std::system_error);
}

}  // namespace
}  // namespace minimind
