// TrainConfig as JSON.
#include "train/train_config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "io/strict_json.h"
#include "model/precision_choice.h"

namespace minimind {

namespace {
const char* decay_name(DecayGroups groups) { return groups == DecayGroups::all ? "all" : "matrices"; }
DecayGroups decay_from(const std::string& name) {
  if (name == "all") return DecayGroups::all;
  if (name == "matrices") return DecayGroups::matrices;
  throw std::invalid_argument("train config: adamw.decay must be \"all\" or \"matrices\", got \"" + name + "\"");
}

nlohmann::json schedule_json(const ScheduleConfig& s) {
  return {{"kind", std::string(schedule_kind_name(s.kind))},
          {"learning_rate", s.learning_rate},
          {"warmup_steps", s.warmup_steps},
          {"min_learning_rate", s.min_learning_rate},
          {"total_steps", s.total_steps},
          {"step_size", s.step_size},
          {"gamma", s.gamma}};
}

ScheduleConfig schedule_from(const nlohmann::json& j) {
  ScheduleConfig s;
  if (j.contains("kind")) s.kind = parse_schedule_kind(j["kind"].get<std::string>());
  if (j.contains("learning_rate")) s.learning_rate = j["learning_rate"].get<double>();
  if (j.contains("warmup_steps")) s.warmup_steps = j["warmup_steps"].get<int64_t>();
  if (j.contains("min_learning_rate")) s.min_learning_rate = j["min_learning_rate"].get<double>();
  if (j.contains("total_steps")) s.total_steps = j["total_steps"].get<int64_t>();
  if (j.contains("step_size")) s.step_size = j["step_size"].get<int64_t>();
  if (j.contains("gamma")) s.gamma = j["gamma"].get<double>();
  return s;
}

}  // namespace

nlohmann::json train_config_to_json(const TrainConfig& c) {
  nlohmann::json json = {
      {"mode", c.mode},
      {"data_dir", c.data_dir.string()},
      {"run_dir", c.run_dir.string()},
      {"init_from", c.init_from ? nlohmann::json(c.init_from->string()) : nlohmann::json(nullptr)},
      {"batch_size", c.batch_size},
      {"seq_len", c.seq_len},
      {"accumulation_steps", c.accumulation_steps},
      {"epochs", c.epochs},
      {"max_steps", c.max_steps},
      {"packed", c.packed},
      {"schedule", schedule_json(c.schedule)},
      {"adamw",
       {{"beta1", c.adamw.beta1},
        {"beta2", c.adamw.beta2},
        {"eps", c.adamw.eps},
        {"weight_decay", c.adamw.weight_decay},
        {"decay", decay_name(c.adamw.decay)}}},
      {"grad_clip", c.grad_clip},
      {"eval_every", c.eval_every},
      {"eval_batches", c.eval_batches},
      {"save_every", c.save_every},
      {"keep_last", c.keep_last},
      {"log_every", c.log_every},
      {"seed", c.seed},
      {"device", c.device},
      {"precision", c.precision},
      {"threads", c.threads},
      {"spike_z", c.spike_z},
      {"max_consecutive_skips", c.max_consecutive_skips},
      {"tokenizer", c.tokenizer.string()},
      {"sample_every", c.sample_every},
      {"probe_prompt", c.probe_prompt},
      {"sample_tokens", c.sample_tokens},
  };
  return json;
}

TrainConfig train_config_from_json(const nlohmann::json& json) {
  TrainConfig c;
  auto get = [&](const char* key, auto& field) {
    if (json.contains(key) && !json[key].is_null()) {
      try {
        field = json[key].get<std::decay_t<decltype(field)>>();
      } catch (const nlohmann::json::exception&) {
        throw std::invalid_argument(std::string("train config: ") + key + " has the wrong type");
      }
    }
  };
  get("mode", c.mode);
  std::string path;
  if (json.contains("data_dir")) c.data_dir = json["data_dir"].get<std::string>();
  if (json.contains("run_dir")) c.run_dir = json["run_dir"].get<std::string>();
  if (json.contains("init_from") && json["init_from"].is_string()) c.init_from = json["init_from"].get<std::string>();
  get("batch_size", c.batch_size);
  get("seq_len", c.seq_len);
  get("accumulation_steps", c.accumulation_steps);
  get("epochs", c.epochs);
  get("max_steps", c.max_steps);
  get("packed", c.packed);
  if (json.contains("schedule")) c.schedule = schedule_from(json["schedule"]);
  if (json.contains("adamw")) {
    const nlohmann::json& a = json["adamw"];
    if (a.contains("beta1")) c.adamw.beta1 = a["beta1"].get<double>();
    if (a.contains("beta2")) c.adamw.beta2 = a["beta2"].get<double>();
    if (a.contains("eps")) c.adamw.eps = a["eps"].get<double>();
    if (a.contains("weight_decay")) c.adamw.weight_decay = a["weight_decay"].get<double>();
    if (a.contains("decay")) c.adamw.decay = decay_from(a["decay"].get<std::string>());
  }
  get("grad_clip", c.grad_clip);
  get("eval_every", c.eval_every);
  get("eval_batches", c.eval_batches);
  get("save_every", c.save_every);
  get("keep_last", c.keep_last);
  get("log_every", c.log_every);
  get("seed", c.seed);
  get("device", c.device);
  get("precision", c.precision);
  get("threads", c.threads);
  get("spike_z", c.spike_z);
  get("max_consecutive_skips", c.max_consecutive_skips);
  if (json.contains("tokenizer") && json["tokenizer"].is_string()) c.tokenizer = json["tokenizer"].get<std::string>();
  get("sample_every", c.sample_every);
  get("probe_prompt", c.probe_prompt);
  get("sample_tokens", c.sample_tokens);
  if (c.mode != "pretrain" && c.mode != "sft")
    throw std::invalid_argument("train config: mode must be \"pretrain\" or \"sft\", got \"" + c.mode + "\"");
  if (!is_precision_choice(c.precision))
    throw std::invalid_argument("train config: precision must be \"auto\", \"f32\" or \"bf16\", got \"" +
                                c.precision + "\"");
  return c;
}

TrainConfig load_train_config(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return train_config_from_json(parse_json_document(text.str(), path.string()));
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error(path.string() + ": " + error.what());
  }
}

}  // namespace minimind
