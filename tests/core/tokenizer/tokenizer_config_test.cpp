// tokenizer_config.json reading and writing. References: the MiniMind tokenizer_config.json written by
// transformers (shared; skipped without it), hand-written files, and the rule that keys this code does not
// model come back unchanged.
#include "tokenizer/tokenizer_config.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "support/scratch_directory.h"
#include "tokenizer/chat_format.h"
#include "tokenizer_test_support.h"

namespace minimind {
namespace {

TEST(TokenizerConfig, ReadsTheMiniMindConfig) {
  MINIMIND_REQUIRE_REFERENCE_TOKENIZER();
  const TokenizerConfig config =
      load_tokenizer_config(tokenizer_test::reference_tokenizer_dir() / "tokenizer_config.json");
  EXPECT_EQ(config.bos_token, "<|im_start|>");
  EXPECT_EQ(config.eos_token, "<|im_end|>");
  EXPECT_EQ(config.pad_token, "<|endoftext|>");
  EXPECT_EQ(config.unk_token, "<|endoftext|>");
  EXPECT_EQ(config.model_max_length, 131072);
  ASSERT_EQ(config.additional_special_tokens.size(), 20u);
  EXPECT_EQ(config.additional_special_tokens[0], "<|im_start|>");
  ASSERT_TRUE(config.chat_template.has_value());
  EXPECT_NE(config.chat_template->find("<|im_start|>"), std::string::npos);
  ASSERT_EQ(config.added_tokens_decoder.size(), 36u);
  EXPECT_EQ(config.added_tokens_decoder.at(2).content, "<|im_end|>");
  EXPECT_TRUE(config.added_tokens_decoder.at(2).special);
  EXPECT_FALSE(config.added_tokens_decoder.at(2).normalized);
  EXPECT_EQ(config.other_fields.at("tokenizer_class"), "PreTrainedTokenizerFast");
  EXPECT_EQ(config.other_fields.at("add_bos_token"), false);

  // Written and read back: the same fields, and every key of the original still there with its value.
  ScratchDirectory directory;
  save_tokenizer_config(directory / "tokenizer_config.json", config);
  const TokenizerConfig reread = load_tokenizer_config(directory / "tokenizer_config.json");
  EXPECT_EQ(tokenizer_config_to_json(reread), tokenizer_config_to_json(config));
  const auto original =
      nlohmann::json::parse(read_file(tokenizer_test::reference_tokenizer_dir() / "tokenizer_config.json"));
  const auto written = nlohmann::json::parse(tokenizer_config_to_json(config));
  EXPECT_EQ(written, original);
}

TEST(TokenizerConfig, KeepsUnknownKeysAndReadsTokenObjects) {
  const std::string text = R"({
    "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false},
    "eos_token": "</s>", "pad_token": null,
    "additional_special_tokens": ["<a>", {"content": "<b>"}],
    "chat_template": [{"name": "default", "template": "{{ x }}"}],
    "model_max_length": 1000000000000000019884624838656,
    "custom": {"nested": [1, 2, 3]}, "tokenizer_class": "X"
  })";
  TokenizerConfig config = parse_tokenizer_config(text, "config.json");
  EXPECT_EQ(config.bos_token, "<s>");
  EXPECT_EQ(config.eos_token, "</s>");
  EXPECT_EQ(config.pad_token, std::nullopt);
  EXPECT_EQ(config.additional_special_tokens, (std::vector<std::string>{"<a>", "<b>"}));
  EXPECT_EQ(config.chat_template, std::nullopt);  // a list of named templates stays as it was
  EXPECT_EQ(config.model_max_length, std::nullopt);
  config.eos_token = "<|im_end|>";
  const auto written = nlohmann::json::parse(tokenizer_config_to_json(config));
  EXPECT_EQ(written["custom"], nlohmann::json::parse(R"({"nested": [1, 2, 3]})"));
  EXPECT_EQ(written["tokenizer_class"], "X");
  EXPECT_EQ(written["chat_template"][0]["template"], "{{ x }}");
  EXPECT_TRUE(written["model_max_length"].is_number_float());
  EXPECT_EQ(written["eos_token"], "<|im_end|>");
  EXPECT_EQ(written["bos_token"], "<s>");
}

TEST(TokenizerConfig, MalformedFieldsAreNamed) {
  const std::pair<const char*, const char*> cases[] = {
      {"[]", "config.json: (document): expected an object"},
      {"{", "config.json: not valid JSON"},
      {R"({"eos_token": 3})",
       "config.json: eos_token: expected a string, an object with \"content\" or null"},
      {R"({"bos_token": {"text": "x"}})", "config.json: bos_token: an object without a string \"content\""},
      {R"({"additional_special_tokens": "x"})", "config.json: additional_special_tokens: expected an array"},
      {R"({"additional_special_tokens": [null]})",
       "config.json: additional_special_tokens[0]: null is not a token"},
      {R"({"added_tokens_decoder": {"x": {"content": "a"}}})",
       "config.json: added_tokens_decoder[\"x\"]: the key is not a token id"},
      {R"({"added_tokens_decoder": {"1": {"special": true}}})",
       "config.json: added_tokens_decoder[\"1\"].content: missing"},
      {R"({"added_tokens_decoder": {"1": {"content": "a", "special": 1}}})",
       "added_tokens_decoder[\"1\"].special: expected true or false"},
  };
  for (const auto& [text, expected] : cases) {
    try {
      parse_tokenizer_config(text, "config.json");
      ADD_FAILURE() << "accepted " << text;
    } catch (const TokenizerError& error) {
      EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
    }
  }
}

// Unmodelled fields pass through untouched, so a deep one would have been kept and copied; a key given
// twice would silently have kept its last value.
TEST(TokenizerConfig, DeepNestingAndDuplicateKeysAreRefusedNamingTheFile) {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"custom": )" + std::string(100000, '[') + std::string(100000, ']') + "}",
       "config.json: arrays or objects nested more than 64 levels deep"},
      {R"({"eos_token": "<|im_end|>", "bos_token": "<s>", "eos_token": "</s>"})",
       "config.json: the key \"eos_token\" appears twice in one object"},
  };
  for (const auto& [text, expected] : cases) {
    try {
      parse_tokenizer_config(text, "config.json");
      ADD_FAILURE() << "accepted " << expected;
    } catch (const TokenizerError& error) {
      EXPECT_EQ(std::string(error.what()), expected);
    }
  }
}

TEST(TokenizerConfig, ChatConfigForATokenizer) {
  MINIMIND_REQUIRE_REFERENCE_TOKENIZER();
  const TokenizerConfig config = make_chat_tokenizer_config(*tokenizer_test::reference_tokenizer());
  EXPECT_EQ(config.bos_token, "<|im_start|>");
  EXPECT_EQ(config.eos_token, "<|im_end|>");
  EXPECT_EQ(config.pad_token, "<|endoftext|>");
  EXPECT_EQ(config.chat_template, std::string(kChatTemplate));
  EXPECT_EQ(config.added_tokens_decoder.size(), 36u);
  // The special added tokens but <|endoftext|>: the same list MiniMind's own config holds.
  const TokenizerConfig minimind =
      load_tokenizer_config(tokenizer_test::reference_tokenizer_dir() / "tokenizer_config.json");
  EXPECT_EQ(config.additional_special_tokens, minimind.additional_special_tokens);
  const TokenizerConfig reread = parse_tokenizer_config(tokenizer_config_to_json(config), "written.json");
  EXPECT_EQ(tokenizer_config_to_json(reread), tokenizer_config_to_json(config));
}

}  // namespace
}  // namespace minimind
