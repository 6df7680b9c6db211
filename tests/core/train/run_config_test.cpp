// The run config file: a lossless round trip of every field, wrong types and unknown keys named with their
// section and the file, and each training rule of validate(TrainConfig, ModelConfig) with the field it names.
#include "train/run_config.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "config/presets.h"
#include "support/scratch_directory.h"

namespace minimind {
namespace {

using nlohmann::json;

// A run whose every field differs from its default, so a field lost on the way shows.
RunConfig unusual_run() {
  RunConfig c;
  c.model = preset("tiny");
  c.model.hidden_size = 96;
  c.model.num_attention_heads = 6;
  c.model.num_key_value_heads = 3;
  c.model.intermediate_size = 320;
  c.model.inference_rope_scaling = false;  // its values must survive anyway
  c.model.rope_scaling.factor = 8.0;
  c.model.rope_scaling.beta_fast = 16.0;
  c.model.use_moe = true;
  c.model.n_routed_experts = 6;
  c.model.num_experts_per_tok = 3;
  c.model.aux_loss_alpha = 0.02;
  c.model.dropout = 0.125;
  c.train.mode = "sft";
  c.train.data_dir = "/data/shards";
  c.train.run_dir = "/runs/one";
  c.train.init_from = "/models/base";
  c.train.batch_size = 12;
  c.train.seq_len = 200;
  c.train.accumulation_steps = 3;
  c.train.epochs = 4;
  c.train.max_steps = 900;
  c.train.packed = false;
  c.train.schedule.kind = ScheduleKind::warmup_cosine;
  c.train.schedule.learning_rate = 3e-4;
  c.train.schedule.warmup_steps = 50;
  c.train.schedule.min_learning_rate = 3e-5;
  c.train.schedule.total_steps = 0;
  c.train.adamw.beta1 = 0.85;
  c.train.adamw.beta2 = 0.95;
  c.train.adamw.eps = 1e-6;
  c.train.adamw.weight_decay = 0.1;
  c.train.adamw.decay = DecayGroups::matrices;
  c.train.grad_clip = 0.5;
  c.train.eval_every = 25;
  c.train.eval_batches = 7;
  c.train.save_every = 75;
  c.train.keep_last = 2;
  c.train.log_every = 5;
  c.train.seed = 1234;
  c.train.threads = 3;
  c.train.precision = "bf16";
  c.train.spike_z = 4.5;
  c.train.max_consecutive_skips = 9;
  c.train.tokenizer = "/tok/tokenizer.json";
  c.train.sample_every = 30;
  c.train.probe_prompt = "Once upon";
  c.train.sample_tokens = 20;
  return c;
}

void expect_same(const RunConfig& a, const RunConfig& b) {
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(train_config_to_json(a.train), train_config_to_json(b.train));
}

// The issue naming `field`, or nullptr.
const ConfigIssue* find_issue(const std::vector<ConfigIssue>& issues, const std::string& field) {
  for (const ConfigIssue& issue : issues)
    if (issue.field == field) return &issue;
  return nullptr;
}

std::string listed(const std::vector<ConfigIssue>& issues) {
  std::string text;
  for (const ConfigIssue& issue : issues) text += issue.field + ": " + issue.rule + "\n";
  return text.empty() ? "(none)" : text;
}

// A valid tiny run changed by `change`, expected refused on `field` alone with a rule
// that mentions `words`.
template <typename Change>
void expect_refused(Change change, const std::string& field, const std::string& words) {
  RunConfig run;
  run.model = preset("tiny");
  run.train.seq_len = 64;
  run.train.schedule.total_steps = 0;  // the run's length, as the lab and the CLI set it
  change(run);
  const std::vector<ConfigIssue> issues = validate(run.train, run.model);
  ASSERT_EQ(issues.size(), 1u) << field << ":\n" << listed(issues);
  EXPECT_EQ(issues[0].field, field);
  EXPECT_NE(issues[0].rule.find(words), std::string::npos) << issues[0].rule;
}

TEST(RunConfig, RoundTripsEveryFieldThroughJsonAndAFile) {
  const RunConfig original = unusual_run();
  ASSERT_TRUE(validate(original).empty()) << listed(validate(original));
  const json written = run_config_to_json(original);
  EXPECT_TRUE(is_run_config(written));
  EXPECT_EQ(written["model"]["model_type"], "minimind");
  EXPECT_EQ(written["train"]["batch_size"], 12);
  expect_same(run_config_from_json(written), original);

  ScratchDirectory scratch;
  const auto path = scratch.path() / "run.json";
  save_run_config(original, path);
  expect_same(load_run_config(path), original);

  // A derived FFN width stays derived (null in the file), so it follows hidden_size after a load.
  RunConfig derived = original;
  derived.model.intermediate_size.reset();
  const json derived_json = run_config_to_json(derived);
  EXPECT_TRUE(derived_json["model"]["intermediate_size"].is_null());
  EXPECT_FALSE(run_config_from_json(derived_json).model.intermediate_size.has_value());
}

TEST(RunConfig, RecognisesARunConfigButNotAModelConfig) {
  EXPECT_TRUE(is_run_config(json{{"model", json::object()}}));
  EXPECT_FALSE(is_run_config(config_to_json(preset("tiny"))));
  EXPECT_FALSE(is_run_config(json::array()));
  EXPECT_FALSE(is_run_config(json{{"model", "tiny"}}));
  EXPECT_THROW(run_config_from_json(config_to_json(preset("tiny"))), RunConfigError);
}

TEST(RunConfig, MissingTrainKeysKeepTheirDefaults) {
  const RunConfig read = run_config_from_json(json{{"model", config_to_json(preset("tiny"))},
                                                    {"train", {{"batch_size", 5}, {"seq_len", 128.0}}}});
  EXPECT_EQ(config_to_json(read.model), config_to_json(preset("tiny")));
  EXPECT_EQ(read.train.batch_size, 5);
  EXPECT_EQ(read.train.seq_len, 128);
  EXPECT_EQ(read.train.accumulation_steps, TrainConfig{}.accumulation_steps);
  EXPECT_EQ(read.train.schedule.learning_rate, TrainConfig{}.schedule.learning_rate);
}

TEST(RunConfig, WrongTypesAndUnknownKeysAreNamedWithTheirSectionAndTheFile) {
  json bad = run_config_to_json(unusual_run());
  bad["train"]["batch_size"] = "twelve";
  bad["train"]["seq_len"] = 64.5;
  bad["train"]["packed"] = 1;
  bad["train"]["schedule"]["learning_rate"] = "fast";
  bad["train"]["schedule"]["kind"] = "triangle";
  bad["train"]["adamw"]["decay"] = "some";
  bad["train"]["seed"] = -3;
  bad["train"]["precision"] = "half";
  bad["train"]["batchsize"] = 4;
  bad["model"]["hidden_size"] = "wide";
  try {
    run_config_from_json(bad, "runs/bad.json");
    FAIL() << "accepted a run config with wrong types";
  } catch (const RunConfigError& error) {
    const std::string text = error.what();
    EXPECT_NE(text.find("runs/bad.json"), std::string::npos) << text;
    EXPECT_NE(text.find("train.batch_size: expected an integer, got string \"twelve\""), std::string::npos) << text;
    const std::pair<const char*, const char*> expected[] = {
        {"train.seq_len", "an integer"},
        {"train.packed", "true or false"},
        {"train.schedule.learning_rate", "a number"},
        {"train.schedule.kind", "triangle"},
        {"train.adamw.decay", "\"all\" or \"matrices\""},
        {"train.seed", "non-negative"},
        {"train.precision", "\"auto\", \"f32\" or \"bf16\""},
        {"train.batchsize", "not a setting"},
        {"model.hidden_size", "an integer"},
    };
    for (const auto& [field, words] : expected) {
      const ConfigIssue* issue = find_issue(error.issues(), field);
      ASSERT_NE(issue, nullptr) << field << " missing from\n" << text;
      EXPECT_NE(issue->rule.find(words), std::string::npos) << field << ": " << issue->rule;
    }
    EXPECT_EQ(error.issues().size(), std::size(expected) + 1) << text;  // and train.batch_size
  }
}

TEST(RunConfig, BrokenRulesInAFileNameTheirJsonKeys) {
  json broken = run_config_to_json(unusual_run());
  broken["train"]["seq_len"] = 100000;  // the tiny preset's RoPE table is far shorter
  broken["train"]["schedule"]["min_learning_rate"] = 1.0;
  try {
    run_config_from_json(broken, "run.json");
    FAIL() << "accepted a run config that breaks the rules";
  } catch (const RunConfigError& error) {
    EXPECT_NE(find_issue(error.issues(), "train.seq_len"), nullptr) << error.what();
    EXPECT_NE(find_issue(error.issues(), "train.schedule.min_learning_rate"), nullptr) << error.what();
    EXPECT_EQ(error.issues().size(), 2u) << error.what();
  }
}

TEST(RunConfig, LoadReportsAMissingFileAndBrokenJsonWithThePath) {
  ScratchDirectory scratch;
  const auto missing = scratch.path() / "missing.json";
  try {
    load_run_config(missing);
    FAIL();
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find(missing.string()), std::string::npos);
  }
  const auto corrupt = scratch.path() / "corrupt.json";
  std::ofstream(corrupt) << "{\"model\": {\"hidden_size\": 64,";
  try {
    load_run_config(corrupt);
    FAIL();
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("not valid JSON"), std::string::npos) << error.what();
  }
}

// A 100,000-deep value and a key given twice are refused naming the file; before the parser caps nesting,
// the messages describe values without the recursive json::dump() that overflowed the stack.
TEST(RunConfig, DeepNestingAndDuplicateKeysAreRefusedNamingTheFile) {
  ScratchDirectory scratch;
  const auto path = scratch.path() / "run.json";
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::pair<std::string, std::string> refused[] = {
      {R"({"model": {}, "train": {"mode": )" + deep + "}}",
       "arrays or objects nested more than 64 levels deep"},
      {R"({"model": {}, "train": {"batch_size": 4, "seq_len": 64, "batch_size": 8}})",
       "the key \"batch_size\" appears twice in one object"},
  };
  for (const auto& [text, problem] : refused) {
    std::ofstream(path, std::ios::trunc) << text;
    try {
      load_run_config(path);
      ADD_FAILURE() << "loaded " << problem;
    } catch (const std::invalid_argument& error) {
      EXPECT_EQ(std::string(error.what()), "run config " + path.string() + ": " + problem);
    }
  }
  for (const char* key : {"mode", "threads", "batch_size"}) {
    SCOPED_TRACE(key);
    try {
      run_config_from_json(
          json::parse(R"({"model": {}, "train": {")" + std::string(key) + "\": " + deep + "}}"), "run.json");
      ADD_FAILURE() << "accepted a nested array";
    } catch (const RunConfigError& error) {
      const ConfigIssue* issue = find_issue(error.issues(), "train." + std::string(key));
      ASSERT_NE(issue, nullptr) << error.what();
      EXPECT_NE(issue->rule.find("array of 1 element"), std::string::npos) << issue->rule;
    }
  }
}

TEST(RunConfig, SaveRefusesAnInvalidRunAndKeepsTheOldFile) {
  ScratchDirectory scratch;
  const auto path = scratch.path() / "run.json";
  RunConfig good = unusual_run();
  save_run_config(good, path);
  RunConfig bad = good;
  bad.train.batch_size = 0;
  EXPECT_THROW(save_run_config(bad, path), RunConfigError);
  expect_same(load_run_config(path), good);
}

TEST(RunConfigRules, TheDefaultsOfATinyRunAreValid) {
  RunConfig run;
  run.model = preset("tiny");
  run.train.seq_len = run.model.max_position_embeddings;  // the longest allowed
  EXPECT_TRUE(validate(run).empty()) << listed(validate(run));
}

TEST(RunConfigRules, EachRuleNamesItsField) {
  expect_refused([](RunConfig& r) { r.train.mode = "finetune"; }, "mode", "\"pretrain\" or \"sft\"");
  expect_refused([](RunConfig& r) { r.train.batch_size = 0; }, "batch_size", "positive, found 0");
  expect_refused([](RunConfig& r) { r.train.batch_size = kMaxBatchSize + 1; }, "batch_size", "at most");
  expect_refused([](RunConfig& r) { r.train.seq_len = -1; }, "seq_len", "positive");
  expect_refused([](RunConfig& r) { r.train.seq_len = r.model.max_position_embeddings + 1; }, "seq_len",
                 "max_position_embeddings " + std::to_string(preset("tiny").max_position_embeddings));
  expect_refused([](RunConfig& r) { r.train.accumulation_steps = 0; }, "accumulation_steps", "positive");
  expect_refused([](RunConfig& r) { r.train.epochs = 0; }, "epochs", "positive");
  expect_refused([](RunConfig& r) { r.train.max_steps = -1; }, "max_steps", "at least 0");
  expect_refused([](RunConfig& r) { r.train.schedule.learning_rate = 0; }, "learning_rate", "positive");
  expect_refused([](RunConfig& r) { r.train.schedule.learning_rate = std::nan(""); }, "learning_rate", "finite");
  expect_refused([](RunConfig& r) { r.train.schedule.warmup_steps = -2; }, "warmup_steps", "at least 0");
  expect_refused(
      [](RunConfig& r) {
        r.train.schedule.kind = ScheduleKind::warmup_cosine;
        r.train.max_steps = 10;
        r.train.schedule.warmup_steps = 11;
      },
      "warmup_steps", "at most the 10 steps of the run");
  expect_refused(
      [](RunConfig& r) {
        r.train.schedule.kind = ScheduleKind::warmup_cosine;
        r.train.schedule.total_steps = 20;
        r.train.schedule.warmup_steps = 21;
      },
      "warmup_steps", "total_steps");
  expect_refused([](RunConfig& r) { r.train.schedule.total_steps = -1; }, "total_steps", "at least 0");
  expect_refused([](RunConfig& r) { r.train.schedule.min_learning_rate = 1e-3; }, "min_learning_rate",
                 "at most learning_rate");
  expect_refused([](RunConfig& r) { r.train.schedule.min_learning_rate = -1e-5; }, "min_learning_rate",
                 "at least 0");
  expect_refused(
      [](RunConfig& r) {
        r.train.schedule.kind = ScheduleKind::step;
        r.train.schedule.step_size = 0;
      },
      "step_size", "positive");
  expect_refused(
      [](RunConfig& r) {
        r.train.schedule.kind = ScheduleKind::exponential;
        r.train.schedule.gamma = 1.5;
      },
      "gamma", "(0, 1]");
  expect_refused([](RunConfig& r) { r.train.adamw.weight_decay = -0.1; }, "weight_decay", "at least 0");
  expect_refused([](RunConfig& r) { r.train.adamw.beta1 = 1.0; }, "beta1", "[0, 1)");
  expect_refused([](RunConfig& r) { r.train.adamw.beta2 = -0.5; }, "beta2", "[0, 1)");
  expect_refused([](RunConfig& r) { r.train.adamw.eps = 0; }, "eps", "positive");
  expect_refused([](RunConfig& r) { r.train.grad_clip = -1; }, "grad_clip", "at least 0");
  expect_refused([](RunConfig& r) { r.train.eval_every = -1; }, "eval_every", "at least 0");
  expect_refused([](RunConfig& r) { r.train.eval_batches = -1; }, "eval_batches", "at least 0");
  expect_refused([](RunConfig& r) { r.train.save_every = -5; }, "save_every", "at least 0");
  expect_refused([](RunConfig& r) { r.train.keep_last = -1; }, "keep_last", "at least 0");
  expect_refused([](RunConfig& r) { r.train.log_every = -1; }, "log_every", "at least 0");
  expect_refused([](RunConfig& r) { r.train.threads = -1; }, "threads", "at least 0");
  expect_refused([](RunConfig& r) { r.train.precision = "fp16"; }, "precision", "auto, f32 or bf16");
  expect_refused([](RunConfig& r) { r.train.spike_z = 0; }, "spike_z", "positive");
  expect_refused([](RunConfig& r) { r.train.max_consecutive_skips = 0; }, "max_consecutive_skips", "positive");
  expect_refused([](RunConfig& r) { r.train.sample_every = -1; }, "sample_every", "at least 0");
  expect_refused(
      [](RunConfig& r) {
        r.train.sample_every = 10;
        r.train.probe_prompt.clear();
      },
      "probe_prompt", "must not be empty");
  expect_refused(
      [](RunConfig& r) {
        r.train.sample_every = 10;
        r.train.sample_tokens = 0;
      },
      "sample_tokens", "positive");
}

TEST(RunConfigRules, RulesThatDependOnTheirSettingOnlyApplyThen) {
  RunConfig run;
  run.model = preset("tiny");
  run.train.seq_len = 64;
  run.train.probe_prompt.clear();  // the probes are off
  run.train.schedule.kind = ScheduleKind::constant;
  run.train.schedule.gamma = 7;       // only the step and exponential schedules use it
  run.train.schedule.step_size = 0;   // only the step schedule uses it
  run.train.max_steps = 5;
  run.train.schedule.warmup_steps = 9;  // only the cosine schedule warms up
  EXPECT_TRUE(validate(run.train, run.model).empty()) << listed(validate(run.train, run.model));
}

TEST(RunConfigRules, TheRunValidationListsModelIssuesFirst) {
  RunConfig run;
  run.model = preset("tiny");
  run.model.num_attention_heads = 7;  // does not divide hidden_size
  run.train.batch_size = 0;
  const std::vector<ConfigIssue> issues = validate(run);
  ASSERT_GE(issues.size(), 2u) << listed(issues);
  EXPECT_EQ(issues.front().field, "num_attention_heads");
  EXPECT_EQ(issues.back().field, "batch_size");
}

}  // namespace
}  // namespace minimind
