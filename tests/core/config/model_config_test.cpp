// ModelConfig against the seed's MiniMindConfig: its defaults, its FeedForward sizing
// (64 * ceil(int(hidden * 8 / 3) / 64), values computed by hand), the config.json it writes (keys listed by
// hand from a saved MiniMind checkpoint), and each validation rule with the field it must name.
#include "config/model_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace minimind {
namespace {

using nlohmann::json;

// The seed's defaults, copied where a test starts over (a named object rather than kSeedDefaults
// temporaries, which GCC 12 wrongly reports as maybe-uninitialized).
const ModelConfig kSeedDefaults;

// The issue validate() reports for `field`, or nullptr.
const ConfigIssue* find_issue(const std::vector<ConfigIssue>& issues, const std::string& field) {
  for (const ConfigIssue& issue : issues)
    if (issue.field == field) return &issue;
  return nullptr;
}

// Expects exactly one issue, on `field`, whose rule mentions `found` (the value or the rule's words).
void expect_refused(const ModelConfig& config, const std::string& field, const std::string& found) {
  const std::vector<ConfigIssue> issues = validate(config);
  ASSERT_EQ(issues.size(), 1u) << "expected one issue on " << field << ", got "
                               << (issues.empty() ? std::string("none") : ConfigError(issues).what());
  EXPECT_EQ(issues[0].field, field);
  EXPECT_NE(issues[0].rule.find(found), std::string::npos) << issues[0].rule;
  EXPECT_THROW(check_valid(config), ConfigError);
}

TEST(ModelConfig, DefaultsEqualTheSeeds) {
  const ModelConfig c;
  EXPECT_EQ(c.hidden_size, 512);
  EXPECT_EQ(c.num_hidden_layers, 8);
  EXPECT_EQ(c.num_attention_heads, 8);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.vocab_size, 6400);
  EXPECT_FALSE(c.intermediate_size.has_value());
  EXPECT_EQ(c.max_position_embeddings, 32768);
  EXPECT_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_EQ(c.rope_theta, 1e6);
  EXPECT_FALSE(c.inference_rope_scaling);
  EXPECT_EQ(c.rope_scaling.beta_fast, 4.0);
  EXPECT_EQ(c.rope_scaling.beta_slow, 1.0);
  EXPECT_EQ(c.rope_scaling.factor, 4.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 2048);
  EXPECT_EQ(c.rope_scaling.type, "yarn");
  EXPECT_EQ(c.dropout, 0.0);
  EXPECT_TRUE(c.flash_attn);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_id, 2);
  EXPECT_EQ(c.hidden_act, "silu");
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.use_moe);
  EXPECT_EQ(c.num_experts_per_tok, 2);
  EXPECT_EQ(c.n_routed_experts, 4);
  EXPECT_EQ(c.n_shared_experts, 1);
  EXPECT_EQ(c.scoring_func, "softmax");
  EXPECT_EQ(c.aux_loss_alpha, 0.1);
  EXPECT_TRUE(c.seq_aux);
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_EQ(c.head_dim(), 64);
  EXPECT_EQ(c.q_dim(), 512);
  EXPECT_EQ(c.kv_dim(), 128);
  EXPECT_TRUE(validate(c).empty());
}

TEST(ModelConfig, DerivesTheSeedsIntermediateSize) {
  // int(h * 8 / 3) rounded up to a multiple of 64, by hand: 682.67 -> 682 -> 704; 1365.33 -> 1408;
  // 2048 exactly -> 2048; 1706.67 -> 1728; 2730.67 -> 2752; 5461.33 -> 5504; 64 * 8 / 3 = 170.67 -> 192.
  const std::vector<std::pair<int64_t, int64_t>> hidden_to_ffn = {
      {256, 704}, {512, 1408}, {768, 2048}, {640, 1728}, {1024, 2752}, {2048, 5504}, {64, 192}, {24, 64}};
  for (const auto& [hidden, ffn] : hidden_to_ffn) {
    ModelConfig c;
    c.hidden_size = hidden;
    EXPECT_EQ(c.ffn_size(), ffn) << "hidden_size " << hidden;
  }
  ModelConfig explicit_size;
  explicit_size.intermediate_size = 1000;
  EXPECT_EQ(explicit_size.ffn_size(), 1000);
}

TEST(ModelConfig, YarnIsActiveOnlyWhenOnAndLongerThanTheOriginalContext) {
  ModelConfig c;
  EXPECT_FALSE(c.yarn_active());
  c.inference_rope_scaling = true;
  EXPECT_TRUE(c.yarn_active());
  c.max_position_embeddings = 2048;
  EXPECT_FALSE(c.yarn_active());
}

TEST(ModelConfigValidation, RefusesHeadsThatDoNotDivideHidden) {
  ModelConfig c;
  c.hidden_size = 500;
  expect_refused(c, "num_attention_heads", "must divide hidden_size 500, found 8");
}

TEST(ModelConfigValidation, RefusesKvHeadsThatDoNotDivideHeads) {
  ModelConfig c;
  c.num_key_value_heads = 3;
  expect_refused(c, "num_key_value_heads", "must divide num_attention_heads 8");
  c.num_key_value_heads = 16;
  expect_refused(c, "num_key_value_heads", "found 16");
  c.num_key_value_heads = 8;  // plain multi-head attention is fine, as is a single KV head
  EXPECT_TRUE(validate(c).empty());
  c.num_key_value_heads = 1;
  EXPECT_TRUE(validate(c).empty());
}

TEST(ModelConfigValidation, RefusesAnOddHeadDim) {
  ModelConfig c;
  c.hidden_size = 24;  // 24 / 8 = 3
  c.num_key_value_heads = 2;
  expect_refused(c, "num_attention_heads", "24 / 8 = 3");
}

TEST(ModelConfigValidation, RefusesZeroAndNegativeSizes) {
  const std::vector<std::pair<std::string, int64_t ModelConfig::*>> sizes = {
      {"hidden_size", &ModelConfig::hidden_size},
      {"num_hidden_layers", &ModelConfig::num_hidden_layers},
      {"num_attention_heads", &ModelConfig::num_attention_heads},
      {"num_key_value_heads", &ModelConfig::num_key_value_heads},
      {"vocab_size", &ModelConfig::vocab_size},
      {"max_position_embeddings", &ModelConfig::max_position_embeddings}};
  for (const auto& [field, member] : sizes) {
    for (const int64_t bad : {int64_t{0}, int64_t{-4}}) {
      ModelConfig c;
      c.*member = bad;
      const std::vector<ConfigIssue> issues = validate(c);
      const ConfigIssue* issue = find_issue(issues, field);
      ASSERT_NE(issue, nullptr) << field << " = " << bad;
      EXPECT_EQ(issue->rule, "must be positive, found " + std::to_string(bad));
      EXPECT_EQ(issues.front().field, field) << "the size itself is reported first";
    }
  }
  ModelConfig c;
  c.intermediate_size = 0;
  expect_refused(c, "intermediate_size", "must be positive, found 0");
  c.intermediate_size = -64;
  expect_refused(c, "intermediate_size", "found -64");
}

TEST(ModelConfigValidation, RefusesTokenIdsOutsideTheVocabulary) {
  ModelConfig c;
  c.eos_token_id = 6400;
  expect_refused(c, "eos_token_id", "[0, 6400), found 6400");
  c = kSeedDefaults;
  c.bos_token_id = -1;
  expect_refused(c, "bos_token_id", "found -1");
  c = kSeedDefaults;
  c.eos_token_id = 6399;
  EXPECT_TRUE(validate(c).empty());
}

TEST(ModelConfigValidation, RefusesOutOfRangeScalars) {
  ModelConfig c;
  c.rms_norm_eps = 0.0;
  expect_refused(c, "rms_norm_eps", "found 0");
  c.rms_norm_eps = std::nan("");
  expect_refused(c, "rms_norm_eps", "positive");
  c = kSeedDefaults;
  c.rope_theta = 1.0;
  expect_refused(c, "rope_theta", "found 1");
  c.rope_theta = std::numeric_limits<double>::infinity();
  expect_refused(c, "rope_theta", "finite");
  c = kSeedDefaults;
  c.dropout = 1.0;
  expect_refused(c, "dropout", "[0, 1), found 1");
  c.dropout = -0.1;
  expect_refused(c, "dropout", "found -0.1");
  c.dropout = 0.999;
  EXPECT_TRUE(validate(c).empty());
}

TEST(ModelConfigValidation, RefusesWhatTheEngineDoesNotImplement) {
  ModelConfig c;
  c.hidden_act = "gelu";
  expect_refused(c, "hidden_act", "found \"gelu\"");
  c = kSeedDefaults;
  c.scoring_func = "sigmoid";
  expect_refused(c, "scoring_func", "\"softmax\"");
  c = kSeedDefaults;
  c.tie_word_embeddings = false;
  expect_refused(c, "tie_word_embeddings", "only tied");
}

TEST(ModelConfigValidation, ChecksRopeScalingOnlyWhenItIsOn) {
  ModelConfig c;
  c.rope_scaling.factor = 0.5;
  c.rope_scaling.type = "linear";
  EXPECT_TRUE(validate(c).empty()) << "unused while inference_rope_scaling is off";

  c = kSeedDefaults;
  c.inference_rope_scaling = true;
  EXPECT_TRUE(validate(c).empty());
  c.rope_scaling.factor = 0.5;
  expect_refused(c, "rope_scaling.factor", "at least 1, found 0.5");
  c.rope_scaling.factor = 1.0;  // no stretch at all is allowed
  EXPECT_TRUE(validate(c).empty());

  c = kSeedDefaults;
  c.inference_rope_scaling = true;
  c.rope_scaling.beta_slow = 0.0;
  c.rope_scaling.beta_fast = 0.0;
  expect_refused(c, "rope_scaling.beta_slow", "positive");
  c.rope_scaling.beta_slow = 2.0;
  c.rope_scaling.beta_fast = 1.0;
  expect_refused(c, "rope_scaling.beta_fast", "at least beta_slow 2, found 1");
  c.rope_scaling.beta_fast = 2.0;  // the seed's formula runs with a constant beta
  EXPECT_TRUE(validate(c).empty());

  c = kSeedDefaults;
  c.inference_rope_scaling = true;
  c.rope_scaling.original_max_position_embeddings = 0;
  expect_refused(c, "rope_scaling.original_max_position_embeddings", "positive");
  c = kSeedDefaults;
  c.inference_rope_scaling = true;
  c.rope_scaling.type = "linear";
  expect_refused(c, "rope_scaling.type", "found \"linear\"");
}

TEST(ModelConfigValidation, ChecksExpertsOnlyWithMoe) {
  ModelConfig c;
  c.num_experts_per_tok = 9;
  c.n_routed_experts = 0;
  c.n_shared_experts = -1;
  c.aux_loss_alpha = -1.0;
  EXPECT_TRUE(validate(c).empty()) << "ignored by a dense model";

  c = kSeedDefaults;
  c.use_moe = true;
  EXPECT_TRUE(validate(c).empty());
  c.num_experts_per_tok = 5;
  expect_refused(c, "num_experts_per_tok",
                 "at most n_routed_experts 4 (top-k picks distinct experts), found 5");
  c.num_experts_per_tok = 4;
  EXPECT_TRUE(validate(c).empty());
  c.num_experts_per_tok = 0;
  expect_refused(c, "num_experts_per_tok", "positive, found 0");

  c = kSeedDefaults;
  c.use_moe = true;
  c.n_routed_experts = 0;
  c.num_experts_per_tok = 1;
  expect_refused(c, "n_routed_experts", "positive, found 0");
  c = kSeedDefaults;
  c.use_moe = true;
  c.n_shared_experts = -1;
  expect_refused(c, "n_shared_experts", "at least 0, found -1");
  c.n_shared_experts = 0;
  EXPECT_TRUE(validate(c).empty());
  c.aux_loss_alpha = -0.01;
  expect_refused(c, "aux_loss_alpha", "found -0.01");
}

TEST(ModelConfigValidation, RefusesAbsurdSizesBeforeAnythingOverflows) {
  ModelConfig c;
  c.hidden_size = 131072;
  c.num_attention_heads = 1024;
  c.num_key_value_heads = 256;
  expect_refused(c, "hidden_size", "at most 65536, found 131072");

  c = kSeedDefaults;
  c.vocab_size = int64_t{1} << 40;
  expect_refused(c, "vocab_size", "at most");
  c = kSeedDefaults;
  c.num_hidden_layers = std::numeric_limits<int64_t>::max();
  expect_refused(c, "num_hidden_layers", "at most 1024");
  c = kSeedDefaults;
  c.intermediate_size = std::numeric_limits<int64_t>::max();
  expect_refused(c, "intermediate_size", "at most");
  c = kSeedDefaults;
  c.max_position_embeddings = int64_t{1} << 40;
  expect_refused(c, "max_position_embeddings", "at most");

  // Each size inside its bound, the product not: 1024 layers of 65536 wide hold about 4.6e13 weights.
  c = kSeedDefaults;
  c.hidden_size = 65536;
  c.num_hidden_layers = 1024;
  c.num_attention_heads = 512;
  c.num_key_value_heads = 128;
  expect_refused(c, "hidden_size", "parameters");
  c.num_hidden_layers = 16;  // about 7.2e11 parameters, under the 2^40 bound
  EXPECT_TRUE(validate(c).empty());
}

TEST(ModelConfigValidation, ReportsEveryIssueAsFieldColonRuleLines) {
  ModelConfig c;
  c.hidden_size = 500;
  c.num_key_value_heads = 3;
  c.eos_token_id = 9999;
  c.dropout = 2.0;
  const std::vector<ConfigIssue> issues = validate(c);
  ASSERT_EQ(issues.size(), 4u);
  EXPECT_EQ(issues[0].field, "num_attention_heads");
  EXPECT_EQ(issues[1].field, "num_key_value_heads");
  EXPECT_EQ(issues[2].field, "dropout");
  EXPECT_EQ(issues[3].field, "eos_token_id");
  try {
    check_valid(c);
    FAIL() << "check_valid accepted an invalid config";
  } catch (const ConfigError& error) {
    ASSERT_EQ(error.issues().size(), 4u);
    const std::string text = error.what();
    for (const ConfigIssue& issue : issues)
      EXPECT_NE(text.find("\n" + issue.field + ": " + issue.rule), std::string::npos) << text;
    EXPECT_NE(text.find("4 issues"), std::string::npos) << text;
  }
  const ConfigError with_source({{"hidden_size", "must be positive, found 0"}}, "run/config.json");
  EXPECT_STREQ(with_source.what(),
               "invalid model config in run/config.json (1 issue):\n"
               "hidden_size: must be positive, found 0");
}

TEST(ModelConfigJson, WritesEveryKeyOfTheSeedsConfigJson) {
  const json written = config_to_json(kSeedDefaults);
  const std::set<std::string> seed_keys = {"architectures",
                                           "aux_loss_alpha",
                                           "bos_token_id",
                                           "dropout",
                                           "eos_token_id",
                                           "flash_attn",
                                           "hidden_act",
                                           "hidden_size",
                                           "inference_rope_scaling",
                                           "intermediate_size",
                                           "max_position_embeddings",
                                           "model_type",
                                           "n_routed_experts",
                                           "n_shared_experts",
                                           "norm_topk_prob",
                                           "num_attention_heads",
                                           "num_experts_per_tok",
                                           "num_hidden_layers",
                                           "num_key_value_heads",
                                           "rms_norm_eps",
                                           "rope_scaling",
                                           "rope_theta",
                                           "scoring_func",
                                           "seq_aux",
                                           "tie_word_embeddings",
                                           "torch_dtype",
                                           "use_moe",
                                           "vocab_size"};
  std::set<std::string> keys;
  for (const auto& [key, value] : written.items()) keys.insert(key);
  EXPECT_EQ(keys, seed_keys);
  EXPECT_EQ(written["model_type"], "minimind");
  EXPECT_EQ(written["architectures"], json::array({"MiniMindForCausalLM"}));
  EXPECT_EQ(written["torch_dtype"], "float32");
  EXPECT_TRUE(written["intermediate_size"].is_number_integer());
  EXPECT_EQ(written["intermediate_size"], 1408);
  EXPECT_TRUE(written["rope_scaling"].is_null());
  EXPECT_EQ(written["rope_theta"], 1e6);
  EXPECT_EQ(written["rms_norm_eps"], 1e-5);
  EXPECT_EQ(written["hidden_size"], 512);
  EXPECT_EQ(written["use_moe"], false);
  EXPECT_EQ(written["aux_loss_alpha"], 0.1);

  ModelConfig scaled;
  scaled.inference_rope_scaling = true;
  const json rope_scaling = config_to_json(scaled)["rope_scaling"];
  EXPECT_EQ(rope_scaling, json::parse(R"({"beta_fast": 4, "beta_slow": 1, "factor": 4,
      "original_max_position_embeddings": 2048, "type": "yarn"})"));
}

TEST(ModelConfigJson, RoundTripsThroughJson) {
  std::vector<ModelConfig> configs(4);
  configs[1].use_moe = true;
  configs[1].n_routed_experts = 8;
  configs[1].num_experts_per_tok = 3;
  configs[1].n_shared_experts = 0;
  configs[1].aux_loss_alpha = 0.01;
  configs[1].seq_aux = false;
  configs[1].norm_topk_prob = false;
  configs[2].inference_rope_scaling = true;
  configs[2].rope_scaling = {.beta_fast = 32.0,
                             .beta_slow = 1.5,
                             .factor = 16.0,
                             .original_max_position_embeddings = 4096,
                             .type = "yarn"};
  configs[2].rope_theta = 10000.0;
  configs[2].rms_norm_eps = 1e-6;
  configs[3].hidden_size = 768;
  configs[3].num_hidden_layers = 16;
  configs[3].intermediate_size = 1000;
  configs[3].dropout = 0.1;
  configs[3].flash_attn = false;
  configs[3].bos_token_id = 5;
  configs[3].eos_token_id = 6;
  for (const ModelConfig& original : configs) {
    ModelConfig expected = original;
    expected.intermediate_size = original.ffn_size();  // written resolved
    const json written = config_to_json(original);
    // Through text too: floats must survive printing.
    const ModelConfig read = config_from_json(json::parse(written.dump(2)));
    EXPECT_EQ(read, expected) << written.dump(2);
    EXPECT_EQ(config_to_json(read), written);
  }
}

TEST(ModelConfigJson, ReadsMissingKeysAsTheSeedsDefaults) {
  EXPECT_EQ(config_from_json(json::object()), kSeedDefaults);
  const ModelConfig c = config_from_json(json{{"hidden_size", 768}, {"num_hidden_layers", 16}});
  ModelConfig expected;
  expected.hidden_size = 768;
  expected.num_hidden_layers = 16;
  EXPECT_EQ(c, expected);
  EXPECT_EQ(c.ffn_size(), 2048);
}

TEST(ModelConfigJson, ReadsTheConfigJsonTransformersWrites) {
  // As save_pretrained writes a MiniMind checkpoint: extra keys, sorted, the resolved intermediate size.
  const json transformers_config = json::parse(R"({
    "_name_or_path": "minimind2",
    "architectures": ["MiniMindForCausalLM"],
    "auto_map": {"AutoConfig": "model_minimind.MiniMindConfig",
                 "AutoModelForCausalLM": "model_minimind.MiniMindForCausalLM"},
    "aux_loss_alpha": 0.1, "bos_token_id": 1, "dropout": 0.0, "eos_token_id": 2, "flash_attn": true,
    "hidden_act": "silu", "hidden_size": 768, "inference_rope_scaling": true, "intermediate_size": 2048,
    "max_position_embeddings": 32768, "model_type": "minimind", "n_routed_experts": 4,
    "n_shared_experts": 1, "norm_topk_prob": true, "num_attention_heads": 8, "num_experts_per_tok": 2,
    "num_hidden_layers": 16, "num_key_value_heads": 2, "pad_token_id": null, "rms_norm_eps": 1e-05,
    "rope_scaling": {"beta_fast": 4, "beta_slow": 1, "factor": 4, "original_max_position_embeddings": 2048,
                     "rope_type": "yarn", "type": "yarn", "attention_factor": 1.0},
    "rope_theta": 1000000.0, "scoring_func": "softmax", "seq_aux": true, "torch_dtype": "bfloat16",
    "transformers_version": "4.57.1", "use_cache": true, "use_moe": false, "vocab_size": 6400
  })");
  ModelConfig expected;
  expected.hidden_size = 768;
  expected.num_hidden_layers = 16;
  expected.intermediate_size = 2048;
  expected.inference_rope_scaling = true;
  EXPECT_EQ(config_from_json(transformers_config), expected);

  // A MiniMindConfig saved before any model resolved its sizes, rope_scaling named by rope_type alone.
  json unresolved = transformers_config;
  unresolved["intermediate_size"] = nullptr;
  unresolved["rope_scaling"] = {{"factor", 8}, {"rope_type", "yarn"}};
  const ModelConfig read = config_from_json(unresolved);
  EXPECT_FALSE(read.intermediate_size.has_value());
  EXPECT_EQ(read.ffn_size(), 2048);
  EXPECT_EQ(read.rope_scaling.factor, 8.0);
  EXPECT_EQ(read.rope_scaling.beta_fast, 4.0);
}

// The single issue config_from_json reports for `object`.
ConfigIssue read_issue(const json& object) {
  try {
    config_from_json(object);
  } catch (const ConfigError& error) {
    EXPECT_EQ(error.issues().size(), 1u) << error.what();
    return error.issues().front();
  }
  ADD_FAILURE() << "accepted " << object.dump();
  return {};
}

TEST(ModelConfigJson, RefusesWrongTypesNamingTheKey) {
  ConfigIssue issue = read_issue(json{{"hidden_size", "512"}});
  EXPECT_EQ(issue.field, "hidden_size");
  EXPECT_EQ(issue.rule, "expected an integer, got string \"512\"");
  EXPECT_EQ(read_issue(json{{"hidden_size", 512.5}}).rule, "expected an integer, got 512.5");
  EXPECT_EQ(read_issue(json{{"vocab_size", nullptr}}).rule, "expected an integer, got null");
  EXPECT_EQ(read_issue(json{{"eos_token_id", json::array({2})}}).rule, "expected an integer, got array [2]");
  EXPECT_EQ(read_issue(json{{"max_position_embeddings", std::numeric_limits<uint64_t>::max()}}).field,
            "max_position_embeddings");
  EXPECT_EQ(read_issue(json{{"rms_norm_eps", "1e-5"}}).rule, "expected a number, got string \"1e-5\"");
  EXPECT_EQ(read_issue(json{{"use_moe", 1}}).rule, "expected true or false, got 1");
  EXPECT_EQ(read_issue(json{{"hidden_act", 3}}).rule, "expected a string, got 3");
  EXPECT_EQ(read_issue(json{{"rope_scaling", 4}}).rule, "expected an object or null, got 4");
  issue = read_issue(json{{"rope_scaling", {{"factor", "4"}}}});
  EXPECT_EQ(issue.field, "rope_scaling.factor");
  EXPECT_EQ(issue.rule, "expected a number, got string \"4\"");
  issue = read_issue(json{{"model_type", "llama"}});
  EXPECT_EQ(issue.field, "model_type");
  EXPECT_NE(issue.rule.find("\"llama\""), std::string::npos);

  // Every wrong type at once; an integer written as a float is still an integer.
  try {
    config_from_json(json{{"hidden_size", true}, {"dropout", "none"}, {"num_hidden_layers", 8.0}});
    FAIL() << "wrong types accepted";
  } catch (const ConfigError& error) {
    ASSERT_EQ(error.issues().size(), 2u) << error.what();
    EXPECT_EQ(error.issues()[0].field, "hidden_size");
    EXPECT_EQ(error.issues()[1].field, "dropout");
  }
  EXPECT_EQ(config_from_json(json{{"num_hidden_layers", 8.0}}), kSeedDefaults);
  EXPECT_THROW(config_from_json(json::array()), ConfigError);
}

// The issue's crash: a 100,000-deep array as "model_type" overflowed the stack through the recursive
// json::dump() of the message. nlohmann's parser itself is iterative, so the value can be built to check
// that the message describes it without recursion.
TEST(ModelConfigJson, DeeplyNestedValuesAreDescribedNotDumped) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  ConfigIssue issue = read_issue(json::parse(R"({"model_type": )" + deep + "}"));
  EXPECT_EQ(issue.field, "model_type");
  EXPECT_EQ(issue.rule, "must be \"minimind\", found array of 1 element");
  issue = read_issue(json::parse(R"({"rope_scaling": {"factor": )" + deep + "}}"));
  EXPECT_EQ(issue.field, "rope_scaling.factor");
  EXPECT_EQ(issue.rule, "expected a number, got array of 1 element");
}

TEST(ModelConfigJson, ValidatesWhatItReads) {
  const ConfigIssue issue = read_issue(json{{"num_key_value_heads", 3}});
  EXPECT_EQ(issue.field, "num_key_value_heads");
  EXPECT_EQ(read_issue(json{{"use_moe", true}, {"num_experts_per_tok", 6}}).field, "num_experts_per_tok");
}

class ModelConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("minimind_model_config_test_" + std::to_string(::getpid()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(directory_);
    std::filesystem::create_directories(directory_);
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  static void write_text(const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }

  std::filesystem::path directory_;
};

TEST_F(ModelConfigFile, SavesAtomicallyAndLoadsBack) {
  const std::filesystem::path path = directory_ / "config.json";
  write_text(path, "an older file that must be replaced whole");
  ModelConfig config;
  config.use_moe = true;
  config.inference_rope_scaling = true;
  save_config(config, path);
  EXPECT_FALSE(std::filesystem::exists(directory_ / "config.json.tmp"));
  ModelConfig expected = config;
  expected.intermediate_size = 1408;
  EXPECT_EQ(load_config(path), expected);

  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_EQ(text.str(), config_to_json(config).dump(2) + "\n");
}

TEST_F(ModelConfigFile, RefusesToSaveAnInvalidConfig) {
  ModelConfig config;
  config.num_key_value_heads = 3;
  EXPECT_THROW(save_config(config, directory_ / "config.json"), ConfigError);
  EXPECT_FALSE(std::filesystem::exists(directory_ / "config.json"));
  EXPECT_THROW(save_config(kSeedDefaults, directory_ / "missing" / "config.json"), std::runtime_error);
}

TEST_F(ModelConfigFile, LoadErrorsNameTheFile) {
  const std::filesystem::path path = directory_ / "config.json";
  try {
    load_config(path);
    FAIL() << "loaded a missing file";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find(path.string()), std::string::npos) << error.what();
  }

  write_text(path, "{\"hidden_size\": 512,");
  try {
    load_config(path);
    FAIL() << "loaded broken JSON";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find(path.string()), std::string::npos) << error.what();
  }

  // Nesting past 64 levels and a key given twice are refused by the parser, naming the file.
  const std::pair<std::string, std::string> refused[] = {
      {R"({"model_type": )" + std::string(100000, '[') + std::string(100000, ']') + "}",
       "arrays or objects nested more than 64 levels deep"},
      {R"({"hidden_size": 512, "num_hidden_layers": 8, "hidden_size": 768})",
       "the key \"hidden_size\" appears twice in one object"},
  };
  for (const auto& [text, problem] : refused) {
    write_text(path, text);
    try {
      load_config(path);
      ADD_FAILURE() << "loaded " << problem;
    } catch (const std::invalid_argument& error) {
      EXPECT_EQ(std::string(error.what()), "model config " + path.string() + ": " + problem);
    }
  }

  write_text(path, R"({"hidden_size": "wide", "num_key_value_heads": 3})");
  try {
    load_config(path);
    FAIL() << "loaded a wrongly typed config";
  } catch (const ConfigError& error) {
    const std::string text = error.what();
    EXPECT_NE(text.find(path.string()), std::string::npos) << text;
    EXPECT_NE(text.find("hidden_size: expected an integer, got string"), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace minimind
