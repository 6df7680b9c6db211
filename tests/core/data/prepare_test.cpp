// Corpus preparation end to end on real files: documents become bos + ids + eos (or chat ids with their loss
// mask), bad lines are counted by reason with file and line, the validation split routes whole documents, and
// a stopped run leaves no shard behind. Reference: the tokenizer's own encode and the chat format.
#include "config/resources.h"
#include "data/prepare.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "data/token_shard.h"
#include "support/scratch_directory.h"
#include "tokenizer/chat_format.h"

namespace minimind {
namespace {

const Tokenizer& default_tokenizer() {
  static const Tokenizer tokenizer =
      Tokenizer::load(default_tokenizer_dir() / "tokenizer.json");
  return tokenizer;
}

void write(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::vector<int32_t> with_bos_eos(const std::string& text) {
  std::vector<int32_t> ids{1};
  default_tokenizer().encode_append(text, ids);
  ids.push_back(2);
  return ids;
}

PrepareOptions pretrain_options(const ScratchDirectory& dir) {
  PrepareOptions options;
  options.kind = SourceKind::pretrain_jsonl;
  options.input = dir / "corpus.jsonl";
  options.output_dir = dir / "out";
  options.validation_fraction = 0;
  options.bos_id = 1;
  options.eos_id = 2;
  return options;
}

TEST(PrepareCorpus, PretrainDocumentsAndBadLinesReportedByReason) {
  ScratchDirectory dir;
  write(dir / "corpus.jsonl",
        "{\"text\": \"床前明月光\"}\n{oops\n{\"title\": \"x\"}\n\n{\"text\": \"The quick brown fox.\"}\n{\"text\": 7}\n");
  const PrepareSummary s = prepare_corpus(pretrain_options(dir), default_tokenizer());
  EXPECT_EQ(s.source.documents, 2);
  EXPECT_EQ(s.source.skipped(), 3);
  EXPECT_EQ(s.source.skipped_by_reason.at("malformed JSON"), 1);
  EXPECT_EQ(s.source.skipped_by_reason.at("missing field"), 1);
  EXPECT_EQ(s.source.skipped_by_reason.at("wrong type"), 1);
  ASSERT_EQ(s.source.first_issues.size(), 3u);
  EXPECT_EQ(s.source.first_issues[0].line, 2);
  EXPECT_EQ(s.source.first_issues[2].line, 6);

  const TokenShard shard = TokenShard::open(s.train_shard);
  ASSERT_EQ(shard.document_count(), 2u);
  EXPECT_EQ(shard.document(0).to_vector(), with_bos_eos("床前明月光"));
  EXPECT_EQ(shard.document(1).to_vector(), with_bos_eos("The quick brown fox."));
  EXPECT_FALSE(shard.has_loss_mask());
  EXPECT_EQ(s.text_bytes, static_cast<int64_t>(std::string("床前明月光The quick brown fox.").size()));
  EXPECT_EQ(s.text_tokens + 4, s.train_tokens);

  std::ifstream summary_file(dir / "out" / "prepare.json");
  const nlohmann::json summary = nlohmann::json::parse(summary_file);
  EXPECT_EQ(summary["source"]["skipped"], 3);
  EXPECT_EQ(summary["train"]["documents"], 2);
  EXPECT_EQ(summary["source"]["first_issues"][0]["line"], 2);
}

TEST(PrepareCorpus, StopAtBadInputNamesTheLineAndLeavesNoShard) {
  ScratchDirectory dir;
  write(dir / "corpus.jsonl", "{\"text\": \"fine\"}\n[1, 2]\n{\"text\": \"never read\"}\n");
  PrepareOptions options = pretrain_options(dir);
  options.on_bad_input = OnBadInput::stop;
  try {
    prepare_corpus(options, default_tokenizer());
    FAIL() << "no DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), 2);
    EXPECT_NE(std::string(e.what()).find("corpus.jsonl"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "out" / "train.shard"));
  EXPECT_FALSE(std::filesystem::exists(dir / "out" / "prepare.json"));
}

TEST(PrepareCorpus, ValidationFractionRoutesWholeDocumentsDeterministically) {
  ScratchDirectory dir;
  std::string corpus;
  for (int i = 0; i < 400; ++i) corpus += "{\"text\": \"document number " + std::to_string(i) + "\"}\n";
  write(dir / "corpus.jsonl", corpus);
  PrepareOptions options = pretrain_options(dir);
  options.validation_fraction = 0.1;
  options.seed = 3;
  const PrepareSummary first = prepare_corpus(options, default_tokenizer());
  EXPECT_EQ(first.train_documents + first.validation_documents, 400);
  EXPECT_GT(first.validation_documents, 15);
  EXPECT_LT(first.validation_documents, 70);
  const auto validation = TokenShard::open(first.validation_shard).tokens().to_vector();
  const PrepareSummary second = prepare_corpus(options, default_tokenizer());
  EXPECT_EQ(TokenShard::open(second.validation_shard).tokens().to_vector(), validation);
}

TEST(PrepareCorpus, SeparateValidationInput) {
  ScratchDirectory dir;
  write(dir / "corpus.jsonl", "{\"text\": \"train one\"}\n{\"text\": \"train two\"}\n");
  write(dir / "val.jsonl", "{\"text\": \"held out\"}\nbroken\n");
  PrepareOptions options = pretrain_options(dir);
  options.validation_fraction = 0.5;  // ignored when a validation input is given
  options.validation_input = dir / "val.jsonl";
  const PrepareSummary s = prepare_corpus(options, default_tokenizer());
  EXPECT_EQ(s.train_documents, 2);
  EXPECT_EQ(s.validation_documents, 1);
  ASSERT_TRUE(s.validation_source.has_value());
  EXPECT_EQ(s.validation_source->skipped(), 1);
  EXPECT_EQ(TokenShard::open(s.validation_shard).document(0).to_vector(), with_bos_eos("held out"));
}

TEST(PrepareCorpus, SftConversationsCarryTheChatLossMask) {
  ScratchDirectory dir;
  write(dir / "sft.jsonl",
        "{\"conversations\": [{\"role\": \"user\", \"content\": \"写一首诗\"}, "
        "{\"role\": \"assistant\", \"content\": \"床前明月光\"}]}\n");
  PrepareOptions options = pretrain_options(dir);
  options.kind = SourceKind::sft_jsonl;
  options.input = dir / "sft.jsonl";
  const PrepareSummary s = prepare_corpus(options, default_tokenizer());
  const TokenShard shard = TokenShard::open(s.train_shard);
  ASSERT_TRUE(shard.has_loss_mask());
  const std::vector<ChatMessage> messages{{"user", "写一首诗"}, {"assistant", "床前明月光"}};
  const ChatEncoding expected = encode_chat(default_tokenizer(), messages);
  EXPECT_EQ(shard.document(0).to_vector(), expected.ids);
  const auto mask = shard.loss_mask(0);
  EXPECT_EQ(std::vector<uint8_t>(mask.begin(), mask.end()), expected.loss_mask);
}

TEST(PrepareCorpus, TextFolderIsSplitIntoChunks) {
  ScratchDirectory dir;
  std::string long_text;
  for (int i = 0; i < 30; ++i) long_text += "Paragraph " + std::to_string(i) + " has a few words in it.\n\n";
  write(dir / "texts" / "a.txt", long_text);
  write(dir / "texts" / "b.txt", "short\r\n");
  PrepareOptions options = pretrain_options(dir);
  options.kind = SourceKind::text_folder;
  options.input = dir / "texts";
  options.chunk_size = 100;
  const PrepareSummary s = prepare_corpus(options, default_tokenizer());
  EXPECT_EQ(s.source.documents, 2);
  EXPECT_GT(s.train_documents, 10);  // a.txt alone makes many chunks of at most 100 characters
  const TokenShard shard = TokenShard::open(s.train_shard);
  EXPECT_EQ(shard.document(shard.document_count() - 1).to_vector(), with_bos_eos("short"));
}

}  // namespace
}  // namespace minimind
