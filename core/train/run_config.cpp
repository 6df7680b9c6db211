// The run config file and the training-side rules. Reading checks every "train" key's type itself (naming
// the key and the file) before handing the object to train_config_from_json, which owns the defaults.
#include "train/run_config.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <system_error>

#include "backend/backend_factory.h"
#include "io/atomic_file.h"
#include "io/strict_json.h"
#include "model/precision_choice.h"

namespace minimind {

using nlohmann::json;

namespace {

// Shortest text that reads back as the same double (1e-05, 0.1, 1000000).
std::string format_number(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

class TrainIssues {
 public:
  void add(std::string field, std::string rule) { issues_.push_back({std::move(field), std::move(rule)}); }

  void at_least(const std::string& field, int64_t value, int64_t low, const std::string& why = "") {
    if (value >= low) return;
    add(field, (low == 1 ? std::string("must be positive") : "must be at least " + std::to_string(low)) + why +
                   ", found " + std::to_string(value));
  }

  void in_range(const std::string& field, int64_t value, int64_t low, int64_t high) {
    at_least(field, value, low);
    if (value > high) add(field, "must be at most " + std::to_string(high) + ", found " + std::to_string(value));
  }

  std::vector<ConfigIssue> take() { return std::move(issues_); }

 private:
  std::vector<ConfigIssue> issues_;
};

// The JSON key of each field validate() names that does not sit at the top of "train".
const std::map<std::string, std::string>& nested_keys() {
  static const std::map<std::string, std::string> keys = {
      {"schedule", "schedule.kind"},
      {"learning_rate", "schedule.learning_rate"},
      {"warmup_steps", "schedule.warmup_steps"},
      {"min_learning_rate", "schedule.min_learning_rate"},
      {"total_steps", "schedule.total_steps"},
      {"step_size", "schedule.step_size"},
      {"gamma", "schedule.gamma"},
      {"beta1", "adamw.beta1"},
      {"beta2", "adamw.beta2"},
      {"eps", "adamw.eps"},
      {"weight_decay", "adamw.weight_decay"},
      {"decay", "adamw.decay"},
  };
  return keys;
}

std::string train_key(const std::string& field) {
  const auto found = nested_keys().find(field);
  return "train." + (found == nested_keys().end() ? field : found->second);
}

enum class Kind { integer, unsigned_integer, number, boolean, string, path_or_null, object };

// Adds an issue for `value` unless it is of `kind`; returns whether it is.
bool check_kind(const std::string& key, const json& value, Kind kind, std::vector<ConfigIssue>& issues) {
  const auto integral = [&] {
    if (value.is_number_integer()) return true;
    if (!value.is_number_float()) return false;
    const double number = value.get<double>();  // 512.0 from a tool that only writes floats is an integer
    return std::trunc(number) == number && std::abs(number) < 0x1p62;
  };
  std::string expected;
  switch (kind) {
    case Kind::integer:
      if (integral() && !(value.is_number_unsigned() && value.get<uint64_t>() > uint64_t{1} << 62)) return true;
      expected = "an integer";
      break;
    case Kind::unsigned_integer:
      if (integral() && (value.is_number_unsigned() || value.get<double>() >= 0)) return true;
      expected = "a non-negative integer";
      break;
    case Kind::number:
      if (value.is_number()) return true;
      expected = "a number";
      break;
    case Kind::boolean:
      if (value.is_boolean()) return true;
      expected = "true or false";
      break;
    case Kind::string:
      if (value.is_string()) return true;
      expected = "a string";
      break;
    case Kind::path_or_null:
      if (value.is_string() || value.is_null()) return true;
      expected = "a path or null";
      break;
    case Kind::object:
      if (value.is_object()) return true;
      expected = "an object";
      break;
  }
  issues.push_back({key, "expected " + expected + ", got " + describe_json_value(value)});
  return false;
}

// Checks the keys of one object against their kinds; unknown keys are refused, as a misspelt setting that
// is silently ignored would train something other than what the file says.
void check_object(const json& object, const std::string& prefix,
                  const std::vector<std::pair<const char*, Kind>>& kinds, std::vector<ConfigIssue>& issues) {
  std::set<std::string> known;
  for (const auto& [key, kind] : kinds) {
    known.insert(key);
    if (const auto found = object.find(key); found != object.end())
      check_kind(prefix + key, *found, kind, issues);
  }
  for (const auto& [key, value] : object.items())
    if (!known.count(key)) issues.push_back({prefix + key, "is not a setting of a run config"});
}

std::vector<ConfigIssue> train_type_issues(const json& train) {
  std::vector<ConfigIssue> issues;
  if (!check_kind("train", train, Kind::object, issues)) return issues;
  check_object(train, "train.",
               {{"mode", Kind::string},
                {"data_dir", Kind::string},
                {"run_dir", Kind::string},
                {"init_from", Kind::path_or_null},
                {"batch_size", Kind::integer},
                {"seq_len", Kind::integer},
                {"accumulation_steps", Kind::integer},
                {"epochs", Kind::integer},
                {"max_steps", Kind::integer},
                {"packed", Kind::boolean},
                {"schedule", Kind::object},
                {"adamw", Kind::object},
                {"grad_clip", Kind::number},
                {"eval_every", Kind::integer},
                {"eval_batches", Kind::integer},
                {"save_every", Kind::integer},
                {"keep_last", Kind::integer},
                {"log_every", Kind::integer},
                {"seed", Kind::unsigned_integer},
                {"device", Kind::string},
                {"precision", Kind::string},
                {"threads", Kind::integer},
                {"spike_z", Kind::number},
                {"max_consecutive_skips", Kind::integer},
                {"tokenizer", Kind::string},
                {"sample_every", Kind::integer},
                {"probe_prompt", Kind::string},
                {"sample_tokens", Kind::integer}},
               issues);
  if (const auto mode = train.find("mode"); mode != train.end() && mode->is_string() && *mode != "pretrain" &&
                                            *mode != "sft")
    issues.push_back({"train.mode", "must be \"pretrain\" or \"sft\", found " + describe_json_value(*mode)});
  if (const auto precision = train.find("precision"); precision != train.end() && precision->is_string() &&
                                                      !is_precision_choice(precision->get<std::string>()))
    issues.push_back({"train.precision",
                      "must be \"auto\", \"f32\" or \"bf16\", found " + describe_json_value(*precision)});
  if (const auto threads = train.find("threads");
      threads != train.end() && threads->is_number_integer() &&
      (threads->get<int64_t>() < 0 || threads->get<int64_t>() > 65536))
    issues.push_back({"train.threads", "must be in [0, 65536], found " + describe_json_value(*threads)});
  if (const auto schedule = train.find("schedule"); schedule != train.end() && schedule->is_object()) {
    check_object(*schedule, "train.schedule.",
                 {{"kind", Kind::string},
                  {"learning_rate", Kind::number},
                  {"warmup_steps", Kind::integer},
                  {"min_learning_rate", Kind::number},
                  {"total_steps", Kind::integer},
                  {"step_size", Kind::integer},
                  {"gamma", Kind::number}},
                 issues);
    if (const auto kind = schedule->find("kind"); kind != schedule->end() && kind->is_string()) {
      try {
        parse_schedule_kind(kind->get<std::string>());
      } catch (const std::invalid_argument& error) {
        issues.push_back({"train.schedule.kind", error.what()});
      }
    }
  }
  if (const auto adamw = train.find("adamw"); adamw != train.end() && adamw->is_object()) {
    check_object(*adamw, "train.adamw.",
                 {{"beta1", Kind::number},
                  {"beta2", Kind::number},
                  {"eps", Kind::number},
                  {"weight_decay", Kind::number},
                  {"decay", Kind::string}},
                 issues);
    if (const auto decay = adamw->find("decay");
        decay != adamw->end() && decay->is_string() && *decay != "all" && *decay != "matrices")
      issues.push_back(
          {"train.adamw.decay", "must be \"all\" or \"matrices\", found " + describe_json_value(*decay)});
  }
  return issues;
}

std::string issue_text(const std::vector<ConfigIssue>& issues, const std::string& source) {
  std::string text = "invalid run config";
  if (!source.empty()) text += " in " + source;
  text += " (" + std::to_string(issues.size()) + (issues.size() == 1 ? " issue):" : " issues):");
  for (const ConfigIssue& issue : issues) text += "\n" + issue.field + ": " + issue.rule;
  return text;
}

}  // namespace

RunConfigError::RunConfigError(std::vector<ConfigIssue> issues, const std::string& source)
    : ConfigError(issues, source), message_(issue_text(issues, source)) {}

std::vector<ConfigIssue> validate(const TrainConfig& c, const ModelConfig& model) {
  TrainIssues issues;
  if (c.mode != "pretrain" && c.mode != "sft")
    issues.add("mode", "must be \"pretrain\" or \"sft\", found \"" + c.mode + "\"");

  issues.in_range("batch_size", c.batch_size, 1, kMaxBatchSize);
  issues.in_range("seq_len", c.seq_len, 1, kMaxSeqLen);
  if (c.seq_len >= 1 && model.max_position_embeddings >= 1 && c.seq_len > model.max_position_embeddings)
    issues.add("seq_len", "must be at most max_position_embeddings " + std::to_string(model.max_position_embeddings) +
                              " (the length of the RoPE table), found " + std::to_string(c.seq_len));
  issues.in_range("accumulation_steps", c.accumulation_steps, 1, kMaxAccumulationSteps);
  issues.at_least("epochs", c.epochs, 1);
  issues.at_least("max_steps", c.max_steps, 0, " (0 runs the epochs)");

  // Comparisons are written so that NaN fails them.
  const ScheduleConfig& s = c.schedule;
  const bool learning_rate_ok = s.learning_rate > 0 && std::isfinite(s.learning_rate);
  if (!learning_rate_ok)
    issues.add("learning_rate", "must be positive and finite, found " + format_number(s.learning_rate));
  issues.at_least("warmup_steps", s.warmup_steps, 0);
  issues.at_least("total_steps", s.total_steps, 0, " (0 spans the whole run)");
  // The schedule spans total_steps when set, else the run; a warmup longer than that never reaches the rate.
  const int64_t schedule_steps = s.total_steps > 0 ? s.total_steps : c.max_steps;
  if (s.kind == ScheduleKind::warmup_cosine && schedule_steps > 0 && s.warmup_steps > schedule_steps)
    issues.add("warmup_steps", "must be at most the " + std::to_string(schedule_steps) +
                                   (s.total_steps > 0 ? " scheduled steps (total_steps)" : " steps of the run (max_steps)") +
                                   ", found " + std::to_string(s.warmup_steps));
  if (!(s.min_learning_rate >= 0 && std::isfinite(s.min_learning_rate)))
    issues.add("min_learning_rate", "must be at least 0 and finite, found " + format_number(s.min_learning_rate));
  else if (learning_rate_ok && s.min_learning_rate > s.learning_rate)
    issues.add("min_learning_rate", "must be at most learning_rate " + format_number(s.learning_rate) +
                                        " (the floor of the decay), found " + format_number(s.min_learning_rate));
  if (s.kind == ScheduleKind::step) issues.at_least("step_size", s.step_size, 1);
  if ((s.kind == ScheduleKind::step || s.kind == ScheduleKind::exponential) && !(s.gamma > 0 && s.gamma <= 1))
    issues.add("gamma", "must be in (0, 1] (the rate decays), found " + format_number(s.gamma));

  const AdamWConfig& a = c.adamw;
  if (!(a.weight_decay >= 0 && std::isfinite(a.weight_decay)))
    issues.add("weight_decay", "must be at least 0 and finite, found " + format_number(a.weight_decay));
  if (!(a.beta1 >= 0 && a.beta1 < 1)) issues.add("beta1", "must be in [0, 1), found " + format_number(a.beta1));
  if (!(a.beta2 >= 0 && a.beta2 < 1)) issues.add("beta2", "must be in [0, 1), found " + format_number(a.beta2));
  if (!(a.eps > 0 && std::isfinite(a.eps)))
    issues.add("eps", "must be positive and finite (it keeps the update's division defined), found " +
                          format_number(a.eps));
  if (!(c.grad_clip >= 0 && std::isfinite(c.grad_clip)))
    issues.add("grad_clip", "must be at least 0 and finite (0 turns clipping off), found " +
                                format_number(c.grad_clip));

  issues.at_least("eval_every", c.eval_every, 0, " (0 validates only at the end)");
  issues.at_least("eval_batches", c.eval_batches, 0, " (0 uses the whole validation split)");
  issues.at_least("save_every", c.save_every, 0, " (0 saves only at the end)");
  issues.at_least("keep_last", c.keep_last, 0);
  issues.at_least("log_every", c.log_every, 0);
  try {
    parse_device(c.device);
  } catch (const DeviceNameError&) {
    issues.add("device", "must be cpu, cuda or cuda:N (N the GPU's number), found \"" + c.device + "\"");
  }
  if (!is_precision_choice(c.precision))
    issues.add("precision", "must be auto, f32 or bf16 (auto: bf16 on a GPU, f32 on the CPU), found \"" +
                                c.precision + "\"");
  if (c.threads < 0) issues.add("threads", "must be at least 0 (0 uses every core), found " + std::to_string(c.threads));
  if (!(c.spike_z > 0)) issues.add("spike_z", "must be positive, found " + format_number(c.spike_z));
  issues.at_least("max_consecutive_skips", c.max_consecutive_skips, 1);

  issues.at_least("sample_every", c.sample_every, 0, " (0 turns the probes off)");
  if (c.sample_every > 0) {
    if (c.probe_prompt.empty())
      issues.add("probe_prompt", "must not be empty while the probes run (sample_every " +
                                     std::to_string(c.sample_every) + ")");
    issues.at_least("sample_tokens", c.sample_tokens, 1);
  }
  return issues.take();
}

std::vector<ConfigIssue> validate(const RunConfig& config) {
  std::vector<ConfigIssue> issues = validate(config.model);
  for (ConfigIssue& issue : validate(config.train, config.model)) issues.push_back(std::move(issue));
  return issues;
}

json run_config_to_json(const RunConfig& config) {
  json model = config_to_json(config.model);
  if (!config.model.intermediate_size) model["intermediate_size"] = nullptr;
  model["rope_scaling"] = {{"beta_fast", config.model.rope_scaling.beta_fast},
                           {"beta_slow", config.model.rope_scaling.beta_slow},
                           {"factor", config.model.rope_scaling.factor},
                           {"original_max_position_embeddings",
                            config.model.rope_scaling.original_max_position_embeddings},
                           {"type", config.model.rope_scaling.type}};
  return {{"model", std::move(model)}, {"train", train_config_to_json(config.train)}};
}

bool is_run_config(const json& json) {
  return json.is_object() && json.contains("model") && json["model"].is_object();
}

RunConfig run_config_from_json(const json& object, const std::string& source) {
  if (!is_run_config(object))
    throw RunConfigError({{"(run config)", std::string("expected an object with a \"model\" object, got ") +
                                               (object.is_object() ? "an object without one" : object.type_name())}},
                         source);
  std::vector<ConfigIssue> issues;
  RunConfig config;
  bool model_read = false;
  try {
    config.model = config_from_json(object["model"]);
    model_read = true;
  } catch (const ConfigError& error) {
    for (const ConfigIssue& issue : error.issues()) issues.push_back({"model." + issue.field, issue.rule});
  }

  const json empty_train = json::object();
  const json& train = object.contains("train") ? object["train"] : empty_train;
  std::vector<ConfigIssue> train_issues = train_type_issues(train);
  issues.insert(issues.end(), train_issues.begin(), train_issues.end());
  for (const auto& [key, value] : object.items())
    if (key != "model" && key != "train") issues.push_back({key, "is not a section of a run config"});
  if (train_issues.empty()) {
    try {
      config.train = train_config_from_json(train);
    } catch (const std::exception& error) {  // the checks above leave nothing it refuses; kept as a guard
      issues.push_back({"train", error.what()});
    }
    if (model_read)
      for (const ConfigIssue& issue : validate(config.train, config.model))
        issues.push_back({train_key(issue.field), issue.rule});
  }
  if (!issues.empty()) throw RunConfigError(std::move(issues), source);
  return config;
}

void save_run_config(const RunConfig& config, const std::filesystem::path& path) {
  std::vector<ConfigIssue> issues = validate(config);
  if (!issues.empty()) throw RunConfigError(std::move(issues), path.string());
  const std::string text = run_config_to_json(config).dump(2) + "\n";
  write_file_atomically(path, std::span<const char>(text.data(), text.size()));
}

RunConfig load_run_config(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    throw std::runtime_error("cannot open run config " + path.string() + ": " +
                             std::generic_category().message(errno));
  std::stringstream text;
  text << file.rdbuf();
  json object;
  try {
    object = parse_json_document(text.str(), "run config " + path.string());
  } catch (const JsonDocumentError& error) {
    throw std::invalid_argument(error.what());
  }
  return run_config_from_json(object, path.string());
}

}  // namespace minimind
