// The model's configuration: every field of the seed's MiniMindConfig with the same defaults and the same
// config.json key names (model_type "minimind"), plus validation that names the field and the rule.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace minimind {

struct RopeScaling {  // YaRN, used when inference_rope_scaling is on
  double beta_fast = 4.0;
  double beta_slow = 1.0;
  double factor = 4.0;
  int64_t original_max_position_embeddings = 2048;
  std::string type = "yarn";

  bool operator==(const RopeScaling&) const = default;
};

struct ModelConfig {
  int64_t hidden_size = 512;
  int64_t num_hidden_layers = 8;
  int64_t num_attention_heads = 8;
  int64_t num_key_value_heads = 2;
  int64_t vocab_size = 6400;
  std::optional<int64_t> intermediate_size;  // unset: 8/3 of hidden, rounded up to a multiple of 64
  int64_t max_position_embeddings = 32768;
  double rms_norm_eps = 1e-5;
  double rope_theta = 1e6;
  bool inference_rope_scaling = false;
  RopeScaling rope_scaling;
  double dropout = 0.0;
  bool flash_attn = true;
  int64_t bos_token_id = 1;
  int64_t eos_token_id = 2;
  std::string hidden_act = "silu";
  bool tie_word_embeddings = true;

  bool use_moe = false;
  int64_t num_experts_per_tok = 2;
  int64_t n_routed_experts = 4;
  int64_t n_shared_experts = 1;
  std::string scoring_func = "softmax";
  double aux_loss_alpha = 0.1;
  bool seq_aux = true;
  bool norm_topk_prob = true;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  int64_t ffn_size() const;  // intermediate_size, or the seed's derived default
  int64_t q_dim() const { return num_attention_heads * head_dim(); }
  int64_t kv_dim() const { return num_key_value_heads * head_dim(); }
  // YaRN rescales the RoPE table when it is on and the table is longer than the original context.
  bool yarn_active() const {
    return inference_rope_scaling && max_position_embeddings > rope_scaling.original_max_position_embeddings;
  }

  bool operator==(const ModelConfig&) const = default;
};

// Upper bounds validate() enforces, far above any model this engine trains, so that no size product
// downstream (parameter counts, byte counts, RoPE tables, buffer offsets) can overflow int64.
inline constexpr int64_t kMaxHiddenSize = 65536;
inline constexpr int64_t kMaxHiddenLayers = 1024;
inline constexpr int64_t kMaxVocabSize = int64_t{1} << 24;
inline constexpr int64_t kMaxIntermediateSize = int64_t{1} << 20;
inline constexpr int64_t kMaxPositionEmbeddings = int64_t{1} << 22;
inline constexpr int64_t kMaxExperts = 1024;  // routed and shared, each
inline constexpr int64_t kMaxParameters = int64_t{1} << 40;

struct ConfigIssue {
  std::string field;  // the config.json key, e.g. "num_key_value_heads"
  std::string rule;   // what must hold, with the values found
};

// what(): a header line (naming `source`, e.g. the file, when given), then one "field: rule" line per issue.
class ConfigError : public std::invalid_argument {
 public:
  explicit ConfigError(std::vector<ConfigIssue> issues, const std::string& source = "");
  const std::vector<ConfigIssue>& issues() const { return issues_; }

 private:
  std::vector<ConfigIssue> issues_;
};

// Every broken rule, in field order; empty when the config is usable.
std::vector<ConfigIssue> validate(const ModelConfig& config);
// Throws ConfigError listing every issue.
void check_valid(const ModelConfig& config);

// config.json in the Hugging Face layout. Reading ignores keys it does not know (transformers adds many),
// refuses wrong types naming the key, and validates the result.
nlohmann::json config_to_json(const ModelConfig& config);
ModelConfig config_from_json(const nlohmann::json& json);
ModelConfig load_config(const std::filesystem::path& path);
void save_config(const ModelConfig& config, const std::filesystem::path& path);  // atomic

}  // namespace minimind
