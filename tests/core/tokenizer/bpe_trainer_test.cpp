// Reference: Hugging Face tokenizers' BpeTrainer behind a ByteLevel pre-tokenizer, as MiniMind's
// train_tokenizer.py runs it; its vocab, merges and added tokens on small corpora are stored in
// tests/fixtures/tokenizer_trainer/ by experiments/tokenizer/make_trainer_fixtures.py and must come out
// exactly equal. (The pre-tokenizer and the byte mapping the trainer shares with the tokenizer are tested in
// byte_level_test.cpp.)
#include "tokenizer/bpe_trainer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace minimind {
namespace {

const std::filesystem::path kFixtureDir = std::filesystem::path(MINIMIND_FIXTURES_DIR) / "tokenizer_trainer";
const std::vector<std::string> kMiniMindSpecials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

nlohmann::json load_fixture(const std::string& name) {
  const std::filesystem::path path = kFixtureDir / (name + ".json");
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("missing fixture " + path.string());
  return nlohmann::json::parse(file);
}

std::vector<std::string> tokens_by_id(const BpeModel& model) {
  std::vector<std::string> tokens(model.vocab.size());
  for (const auto& [token, id] : model.vocab) {
    EXPECT_GE(id, 0);
    EXPECT_LT(static_cast<size_t>(id), tokens.size()) << "ids must be contiguous from 0";
    if (id >= 0 && static_cast<size_t>(id) < tokens.size()) tokens[id] = token;
  }
  return tokens;
}

BpeModel train_on(const std::vector<std::string>& documents, BpeTrainerOptions options) {
  BpeTrainer trainer(std::move(options));
  for (const std::string& document : documents) trainer.feed(document);
  return trainer.train();
}

std::vector<std::string> english_documents() {
  return load_fixture("english")["documents"].get<std::vector<std::string>>();
}

// Every case, every run: the same vocab (token by token, id by id), merges in the same rank order and the
// same added tokens as Hugging Face.
TEST(BpeTrainerTest, MatchesHuggingFaceOnEveryFixture) {
  for (const std::string name :
       {"english", "chinese", "mixed", "ties", "runs", "tiny_vocab", "special_edges"}) {
    const nlohmann::json fixture = load_fixture(name);
    const auto documents = fixture["documents"].get<std::vector<std::string>>();
    for (const nlohmann::json& run : fixture["runs"]) {
      BpeTrainerOptions options;
      options.vocab_size = run["vocab_size"].get<int64_t>();
      options.special_tokens = run["special_tokens"].get<std::vector<std::string>>();
      options.min_frequency = run["min_frequency"].get<int64_t>();
      const BpeModel model = train_on(documents, options);
      SCOPED_TRACE(name + " vocab_size " + std::to_string(options.vocab_size) + " min_frequency " +
                   std::to_string(options.min_frequency));

      const auto expected_tokens = run["tokens_by_id"].get<std::vector<std::string>>();
      const std::vector<std::string> tokens = tokens_by_id(model);
      ASSERT_EQ(tokens.size(), expected_tokens.size());
      for (size_t id = 0; id < tokens.size(); ++id) {
        ASSERT_EQ(tokens[id], expected_tokens[id]) << "first difference at id " << id;
      }

      const auto expected_merges = run["merges"].get<std::vector<std::vector<std::string>>>();
      ASSERT_EQ(model.merges.size(), expected_merges.size());
      for (size_t rank = 0; rank < expected_merges.size(); ++rank) {
        ASSERT_EQ(model.merges[rank].first, expected_merges[rank].at(0))
            << "first difference at rank " << rank;
        ASSERT_EQ(model.merges[rank].second, expected_merges[rank].at(1))
            << "first difference at rank " << rank;
      }

      ASSERT_EQ(model.added_tokens.size(), run["added_tokens"].size());
      for (size_t i = 0; i < model.added_tokens.size(); ++i) {
        const nlohmann::json& expected = run["added_tokens"][i];
        EXPECT_EQ(model.added_tokens[i].id, expected["id"].get<int32_t>());
        EXPECT_EQ(model.added_tokens[i].content, expected["content"].get<std::string>());
        EXPECT_EQ(model.added_tokens[i].special, expected["special"].get<bool>());
        EXPECT_FALSE(model.added_tokens[i].normalized);
      }
    }
  }
}

TEST(BpeTrainerTest, SpecialTokensComeFirstThenTheAlphabetByCodePoint) {
  BpeTrainerOptions options;
  options.vocab_size = 400;
  options.special_tokens = kMiniMindSpecials;
  const BpeModel model = train_on({"some text to merge, some more text\n"}, options);
  for (int32_t id = 0; id < 3; ++id) {
    EXPECT_EQ(model.vocab.at(kMiniMindSpecials[id]), id);
    EXPECT_EQ(model.added_tokens.at(id).id, id);
    EXPECT_EQ(model.added_tokens.at(id).content, kMiniMindSpecials[id]);
    EXPECT_TRUE(model.added_tokens.at(id).special);
  }
  // '!' (U+0021) is the smallest code point of the byte alphabet, 'ÿ' (U+00FF) the last printable byte,
  // 'Ā' (U+0100, byte 0) the first of the remapped ones and 'Ń' (U+0143, byte 0xAD) the last.
  EXPECT_EQ(model.vocab.at("!"), 3);
  EXPECT_EQ(model.vocab.at("~"), 3 + 93);
  EXPECT_EQ(model.vocab.at("ÿ"), 3 + 187);
  EXPECT_EQ(model.vocab.at("Ā"), 3 + 188);
  EXPECT_EQ(model.vocab.at("Ń"), 3 + 255);
  EXPECT_EQ(model.vocab.at("Ġ"), 3 + 188 + 32);  // the space
  // Merged tokens follow, in merge order.
  ASSERT_FALSE(model.merges.empty());
  EXPECT_EQ(model.vocab.at(model.merges[0].first + model.merges[0].second), 259);
}

TEST(BpeTrainerTest, ProgressCountsIncreaseWithinEachStage) {
  std::vector<std::tuple<std::string, int64_t, int64_t>> calls;
  BpeTrainerOptions options;
  options.vocab_size = 700;
  options.special_tokens = kMiniMindSpecials;
  options.progress = [&calls](std::string_view stage, int64_t done, int64_t total) {
    calls.emplace_back(std::string(stage), done, total);
  };
  BpeTrainer trainer(options);
  for (const std::string& document : english_documents()) trainer.feed(document);
  const BpeModel model = trainer.train();
  ASSERT_EQ(model.vocab.size(), 700u);

  std::map<std::string, std::vector<std::pair<int64_t, int64_t>>> by_stage;
  std::vector<std::string> stage_order;
  for (const auto& [stage, done, total] : calls) {
    if (by_stage.find(stage) == by_stage.end()) stage_order.push_back(stage);
    by_stage[stage].emplace_back(done, total);
  }
  EXPECT_EQ(stage_order, (std::vector<std::string>{"Tokenize words", "Count pairs", "Compute merges"}));
  for (const auto& [stage, points] : by_stage) {
    SCOPED_TRACE(stage);
    for (size_t i = 1; i < points.size(); ++i) {
      EXPECT_GT(points[i].first, points[i - 1].first);
      EXPECT_EQ(points[i].second, points[0].second);
    }
    EXPECT_EQ(points.back().first, points.back().second) << "the stage ran to completion";
  }
  EXPECT_EQ(by_stage["Tokenize words"].back().second, trainer.unique_words());
  EXPECT_EQ(by_stage["Compute merges"].back().second, 700 - 259);
  EXPECT_GT(by_stage["Compute merges"].size(), 100u) << "merges are reported as they happen";
}

TEST(BpeTrainerTest, MinFrequencyStopsMerging) {
  const auto documents = english_documents();
  BpeTrainerOptions options;
  options.vocab_size = 2000;
  const BpeModel unlimited = train_on(documents, options);
  options.min_frequency = 8;
  const BpeModel limited = train_on(documents, options);
  options.min_frequency = 1'000'000;
  const BpeModel none = train_on(documents, options);

  EXPECT_TRUE(none.merges.empty());
  EXPECT_EQ(none.vocab.size(), 256u);
  // Merges happen in decreasing count order until the first pair below the threshold: the limited run is a
  // strict prefix of the unlimited one.
  ASSERT_GT(limited.merges.size(), 0u);
  ASSERT_LT(limited.merges.size(), unlimited.merges.size());
  for (size_t rank = 0; rank < limited.merges.size(); ++rank)
    EXPECT_EQ(limited.merges[rank], unlimited.merges[rank]);
}

TEST(BpeTrainerTest, FeedingInPiecesEqualsFeedingAtOnce) {
  std::string text;
  for (const std::string& document : english_documents()) text += document;
  BpeTrainerOptions options;
  options.vocab_size = 600;
  options.special_tokens = kMiniMindSpecials;

  BpeTrainer whole(options);
  whole.feed(text);
  // Cut before every " " that starts a word: the pre-tokenizer splits there anyway.
  BpeTrainer pieces(options);
  size_t piece_begin = 0;
  for (size_t i = 1; i + 1 < text.size(); ++i) {
    if (text[i] == ' ' && text[i - 1] != ' ' && std::isalpha(static_cast<unsigned char>(text[i + 1]))) {
      pieces.feed(std::string_view(text).substr(piece_begin, i - piece_begin));
      piece_begin = i;
    }
  }
  pieces.feed(std::string_view(text).substr(piece_begin));

  EXPECT_EQ(whole.unique_words(), pieces.unique_words());
  const BpeModel a = whole.train();
  const BpeModel b = pieces.train();
  EXPECT_EQ(a.vocab, b.vocab);
  EXPECT_EQ(a.merges, b.merges);
  EXPECT_EQ(a.vocab.size(), 600u);
}

TEST(BpeTrainerTest, DocumentOrderAndRepeatedTrainingDoNotChangeTheResult) {
  auto documents = english_documents();
  BpeTrainerOptions options;
  options.vocab_size = 500;
  BpeTrainer forward(options);
  for (const std::string& document : documents) forward.feed(document);
  BpeTrainer backward(options);
  for (auto document = documents.rbegin(); document != documents.rend(); ++document) backward.feed(*document);
  const BpeModel first = forward.train();
  EXPECT_EQ(first.merges, forward.train().merges);
  EXPECT_EQ(first.vocab, backward.train().vocab);
  EXPECT_EQ(first.merges, backward.train().merges);
}

TEST(BpeTrainerTest, InvalidUtf8BytesAreCountedNotRejected) {
  BpeTrainerOptions options;
  options.vocab_size = 300;
  BpeTrainer trainer(options);
  for (int i = 0; i < 10; ++i) trainer.feed("ok \xff\xff\xfe text\xc3 \xe4\xbd\n");
  const BpeModel model = trainer.train();
  // 0xFF and 0xFE are 'ÿ' and 'þ' in the byte alphabet; a run of invalid bytes is one pre-token of its own
  // (see pretokenizer.h), and its bytes merge like any others.
  EXPECT_EQ(model.vocab.count("ÿÿþ"), 1u);
  EXPECT_EQ(model.vocab.count("Ġtext"), 1u);
  EXPECT_EQ(model.vocab.count("ä½"), 1u);
}

TEST(BpeTrainerTest, RejectsInvalidOptions) {
  BpeTrainerOptions negative_vocab;
  negative_vocab.vocab_size = -1;
  EXPECT_THROW(BpeTrainer{negative_vocab}, std::invalid_argument);
  BpeTrainerOptions negative_frequency;
  negative_frequency.min_frequency = -2;
  EXPECT_THROW(BpeTrainer{negative_frequency}, std::invalid_argument);
  BpeTrainerOptions empty_special;
  empty_special.special_tokens = {"<s>", ""};
  EXPECT_THROW(BpeTrainer{empty_special}, std::invalid_argument);
}

TEST(BpeTrainerTest, EmptyCorpusGivesSpecialsAndAlphabet) {
  BpeTrainerOptions options;
  options.special_tokens = kMiniMindSpecials;
  const BpeModel model = BpeTrainer(options).train();
  EXPECT_EQ(model.vocab.size(), 259u);
  EXPECT_TRUE(model.merges.empty());
}

}  // namespace
}  // namespace minimind
