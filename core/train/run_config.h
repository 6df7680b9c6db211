// A run config: the model and the training settings of one run in one JSON file, {"model": ..., "train": ...},
// which the lab saves and loads and `minimind train --config` accepts. Also the training-side validation rules,
// reported per field like validate(const ModelConfig&).
#pragma once

#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "train/train_config.h"

namespace minimind {

struct RunConfig {
  ModelConfig model;
  TrainConfig train;
};

// Bounds of the training sizes, far above what any run here uses, so that batch * seq_len and friends stay
// small enough for every product downstream.
inline constexpr int64_t kMaxBatchSize = int64_t{1} << 20;
inline constexpr int64_t kMaxSeqLen = kMaxPositionEmbeddings;
inline constexpr int64_t kMaxAccumulationSteps = int64_t{1} << 20;

// Every broken training rule, naming the TrainConfig field as the lab and the CLI call it ("batch_size",
// "seq_len", "learning_rate", "min_learning_rate", "warmup_steps", "weight_decay", "beta1", ...). `model` is
// the model the run trains: seq_len must fit its max_position_embeddings.
std::vector<ConfigIssue> validate(const TrainConfig& train, const ModelConfig& model);
// The model's issues, then the training issues; empty when the run can start.
std::vector<ConfigIssue> validate(const RunConfig& config);

// Thrown by the run-config readers: the issues name JSON keys with their section ("train.batch_size",
// "model.num_attention_heads"), and what() names the file when there is one.
class RunConfigError : public ConfigError {
 public:
  explicit RunConfigError(std::vector<ConfigIssue> issues, const std::string& source = "");
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

// {"model": <config.json fields>, "train": <train_config_to_json>}. Two deviations from config.json keep the
// file lossless: an unset intermediate_size is written as null (it stays derived from hidden_size), and
// rope_scaling is written even when YaRN is off (its values survive turning it off and on).
nlohmann::json run_config_to_json(const RunConfig& config);
// Refuses wrong types and unknown "train" keys naming each one, then validates the whole run. `source` (the
// file, say) is named in the error. Missing keys keep their defaults.
RunConfig run_config_from_json(const nlohmann::json& json, const std::string& source = "");
// Whether a parsed JSON file is a run config (an object with a "model" object) rather than a config.json.
bool is_run_config(const nlohmann::json& json);

// Validates, then writes atomically (the old file stays whole if anything fails).
void save_run_config(const RunConfig& config, const std::filesystem::path& path);
// Throws std::runtime_error when the file cannot be read, std::invalid_argument when it is not JSON, and
// RunConfigError naming the file and each key otherwise.
RunConfig load_run_config(const std::filesystem::path& path);

}  // namespace minimind
