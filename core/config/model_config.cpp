// ModelConfig: the derived FFN width, the validation rules, and config.json in the layout the seed's
// MiniMindConfig (a transformers PretrainedConfig) writes, so a model moves between the lab and PyTorch.
#include "config/model_config.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <system_error>

#include "io/atomic_file.h"
#include "io/strict_json.h"

namespace minimind {

using nlohmann::json;

int64_t ModelConfig::ffn_size() const {
  if (intermediate_size) return *intermediate_size;
  // The seed: int(hidden_size * 8 / 3), a floating-point division truncated toward zero like Python's int(),
  // then rounded up to a multiple of 64.
  const auto eight_thirds = static_cast<int64_t>(static_cast<double>(hidden_size) * 8.0 / 3.0);
  return 64 * ((eight_thirds + 64 - 1) / 64);
}

namespace {

// Shortest text that reads back as the same double (1e-05, 0.1, 1000000).
std::string format_number(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

std::string quoted(const std::string& text) {
  return "\"" + text + "\"";
}

std::string issue_lines(const std::vector<ConfigIssue>& issues, const std::string& source) {
  std::string text = "invalid model config";
  if (!source.empty()) text += " in " + source;
  text += " (" + std::to_string(issues.size()) + (issues.size() == 1 ? " issue):" : " issues):");
  for (const ConfigIssue& issue : issues) text += "\n" + issue.field + ": " + issue.rule;
  return text;
}

class IssueList {
 public:
  void add(std::string field, std::string rule) { issues_.push_back({std::move(field), std::move(rule)}); }

  // Adds "must be at least `low`" / "must be at most `high`"; returns whether the value is inside.
  bool in_range(const std::string& field, int64_t value, int64_t low, int64_t high) {
    if (value < low) {
      add(field, low == 1 ? "must be positive, found " + std::to_string(value)
                          : "must be at least " + std::to_string(low) + ", found " + std::to_string(value));
      return false;
    }
    if (value > high) {
      add(field, "must be at most " + std::to_string(high) + ", found " + std::to_string(value));
      return false;
    }
    return true;
  }

  void equals(const std::string& field, const std::string& value, const std::string& expected,
              const std::string& why) {
    if (value != expected)
      add(field, "must be " + quoted(expected) + " (" + why + "), found " + quoted(value));
  }

  std::vector<ConfigIssue> take() { return std::move(issues_); }
  bool empty() const { return issues_.empty(); }

 private:
  std::vector<ConfigIssue> issues_;
};

// Every parameter, all experts included; only called once each size is inside its kMax bound, where no
// product below exceeds 2^59.
int64_t parameter_count_within_bounds(const ModelConfig& config) {
  const int64_t hidden = config.hidden_size;
  const int64_t attention = 2 * hidden * config.q_dim() + 2 * hidden * config.kv_dim();
  const int64_t one_ffn = 3 * hidden * config.ffn_size();
  const int64_t mlp = config.use_moe ? hidden * config.n_routed_experts +
                                           (config.n_routed_experts + config.n_shared_experts) * one_ffn
                                     : one_ffn;
  return config.vocab_size * hidden + config.num_hidden_layers * (attention + mlp + 2 * hidden) + hidden;
}

}  // namespace

ConfigError::ConfigError(std::vector<ConfigIssue> issues, const std::string& source)
    : std::invalid_argument(issue_lines(issues, source)), issues_(std::move(issues)) {}

std::vector<ConfigIssue> validate(const ModelConfig& c) {
  IssueList issues;
  // Positive sizes under generous caps first; the rules that divide or multiply sizes only run on sizes
  // that passed, so validation itself never divides by zero or overflows.
  const bool hidden_ok = issues.in_range("hidden_size", c.hidden_size, 1, kMaxHiddenSize);
  const bool layers_ok = issues.in_range("num_hidden_layers", c.num_hidden_layers, 1, kMaxHiddenLayers);

  bool heads_ok = issues.in_range("num_attention_heads", c.num_attention_heads, 1, kMaxHiddenSize);
  if (heads_ok && hidden_ok) {
    if (c.hidden_size % c.num_attention_heads != 0) {
      issues.add("num_attention_heads", "must divide hidden_size " + std::to_string(c.hidden_size) +
                                            ", found " + std::to_string(c.num_attention_heads));
      heads_ok = false;
    } else if (c.head_dim() % 2 != 0) {
      issues.add(
          "num_attention_heads",
          "head_dim = hidden_size / num_attention_heads must be even (RoPE rotates pairs of dimensions), "
          "found " +
              std::to_string(c.hidden_size) + " / " + std::to_string(c.num_attention_heads) + " = " +
              std::to_string(c.head_dim()));
      heads_ok = false;
    }
  }

  bool kv_heads_ok = issues.in_range("num_key_value_heads", c.num_key_value_heads, 1, kMaxHiddenSize);
  if (kv_heads_ok && c.num_attention_heads > 0 && c.num_attention_heads % c.num_key_value_heads != 0) {
    issues.add("num_key_value_heads", "must divide num_attention_heads " +
                                          std::to_string(c.num_attention_heads) +
                                          " (each KV head serves a whole group of query heads), found " +
                                          std::to_string(c.num_key_value_heads));
    kv_heads_ok = false;
  }

  const bool vocab_ok = issues.in_range("vocab_size", c.vocab_size, 1, kMaxVocabSize);
  const bool ffn_ok = !c.intermediate_size ||
                      issues.in_range("intermediate_size", *c.intermediate_size, 1, kMaxIntermediateSize);
  issues.in_range("max_position_embeddings", c.max_position_embeddings, 1, kMaxPositionEmbeddings);

  // Comparisons are written so that NaN fails them.
  if (!(c.rms_norm_eps > 0.0 && std::isfinite(c.rms_norm_eps)))
    issues.add("rms_norm_eps", "must be positive and finite, found " + format_number(c.rms_norm_eps));
  if (!(c.rope_theta > 1.0 && std::isfinite(c.rope_theta)))
    issues.add("rope_theta",
               "must be finite and above 1 (RoPE frequencies are rope_theta^(-2i/head_dim)), found " +
                   format_number(c.rope_theta));

  if (c.inference_rope_scaling) {
    // The seed's YaRN multiplies frequency i by (beta*factor - beta + 1) / (beta*factor), beta running
    // linearly from beta_slow to beta_fast across the dimensions. beta_fast >= beta_slow > 0 keeps every beta
    // positive, so the division is defined and each scale is positive; factor >= 1 makes it a stretch of the
    // context, not a compression. The formula itself tolerates beta_fast == beta_slow (a constant beta).
    const RopeScaling& yarn = c.rope_scaling;
    issues.equals("rope_scaling.type", yarn.type, "yarn", "the only RoPE scaling implemented");
    if (!(yarn.factor >= 1.0 && std::isfinite(yarn.factor)))
      issues.add("rope_scaling.factor", "must be finite and at least 1, found " + format_number(yarn.factor));
    if (!(yarn.beta_slow > 0.0 && std::isfinite(yarn.beta_slow)))
      issues.add("rope_scaling.beta_slow",
                 "must be positive and finite, found " + format_number(yarn.beta_slow));
    if (!(yarn.beta_fast >= yarn.beta_slow && std::isfinite(yarn.beta_fast)))
      issues.add("rope_scaling.beta_fast", "must be finite and at least beta_slow " +
                                               format_number(yarn.beta_slow) + ", found " +
                                               format_number(yarn.beta_fast));
    issues.in_range("rope_scaling.original_max_position_embeddings", yarn.original_max_position_embeddings, 1,
                    kMaxPositionEmbeddings);
  }

  if (!(c.dropout >= 0.0 && c.dropout < 1.0))
    issues.add("dropout", "must be in [0, 1), found " + format_number(c.dropout));

  const std::string vocab_range = "[0, " + std::to_string(c.vocab_size) + ")";
  if (c.bos_token_id < 0 || c.bos_token_id >= c.vocab_size)
    issues.add("bos_token_id",
               "must be a token id in " + vocab_range + ", found " + std::to_string(c.bos_token_id));
  if (c.eos_token_id < 0 || c.eos_token_id >= c.vocab_size)
    issues.add("eos_token_id",
               "must be a token id in " + vocab_range + ", found " + std::to_string(c.eos_token_id));

  issues.equals("hidden_act", c.hidden_act, "silu", "the SwiGLU feed-forward is the only one implemented");
  if (!c.tie_word_embeddings)
    issues.add("tie_word_embeddings",
               "must be true: only tied input and output embeddings are supported (the lm head reuses "
               "embed_tokens.weight), found false");

  bool experts_ok = true;
  if (c.use_moe) {
    experts_ok = issues.in_range("n_routed_experts", c.n_routed_experts, 1, kMaxExperts);
    if (c.num_experts_per_tok < 1) {
      issues.in_range("num_experts_per_tok", c.num_experts_per_tok, 1, kMaxExperts);
    } else if (experts_ok && c.num_experts_per_tok > c.n_routed_experts) {
      issues.add("num_experts_per_tok",
                 "must be at most n_routed_experts " + std::to_string(c.n_routed_experts) +
                     " (top-k picks distinct experts), found " + std::to_string(c.num_experts_per_tok));
    }
    experts_ok = issues.in_range("n_shared_experts", c.n_shared_experts, 0, kMaxExperts) && experts_ok;
    if (!(c.aux_loss_alpha >= 0.0 && std::isfinite(c.aux_loss_alpha)))
      issues.add("aux_loss_alpha", "must be finite and at least 0, found " + format_number(c.aux_loss_alpha));
  }
  // The router's scoring function is written to config.json whether or not MoE is on; refuse what the
  // engine would not run when it is turned on.
  issues.equals("scoring_func", c.scoring_func, "softmax", "the only router scoring implemented");

  // The whole-model rule last: each size may be in bounds while their product is not.
  if (hidden_ok && layers_ok && heads_ok && kv_heads_ok && vocab_ok && ffn_ok && experts_ok) {
    const int64_t parameters = parameter_count_within_bounds(c);
    if (parameters > kMaxParameters)
      issues.add("hidden_size",
                 "the model would have " + std::to_string(parameters) +
                     " parameters (hidden_size, num_hidden_layers, intermediate_size, vocab_size "
                     "and experts together); at most " +
                     std::to_string(kMaxParameters) + " are supported");
  }
  return issues.take();
}

void check_valid(const ModelConfig& config) {
  std::vector<ConfigIssue> issues = validate(config);
  if (!issues.empty()) throw ConfigError(std::move(issues));
}

json config_to_json(const ModelConfig& c) {
  json rope_scaling = nullptr;
  if (c.inference_rope_scaling) {
    rope_scaling = {{"beta_fast", c.rope_scaling.beta_fast},
                    {"beta_slow", c.rope_scaling.beta_slow},
                    {"factor", c.rope_scaling.factor},
                    {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings},
                    {"type", c.rope_scaling.type}};
  }
  // The seed resolves intermediate_size when it builds the feed-forward, so its saved config.json holds
  // the number; writing it keeps the file independent of the rounding rule.
  return {{"architectures", json::array({"MiniMindForCausalLM"})},
          {"aux_loss_alpha", c.aux_loss_alpha},
          {"bos_token_id", c.bos_token_id},
          {"dropout", c.dropout},
          {"eos_token_id", c.eos_token_id},
          {"flash_attn", c.flash_attn},
          {"hidden_act", c.hidden_act},
          {"hidden_size", c.hidden_size},
          {"inference_rope_scaling", c.inference_rope_scaling},
          {"intermediate_size", c.ffn_size()},
          {"max_position_embeddings", c.max_position_embeddings},
          {"model_type", "minimind"},
          {"n_routed_experts", c.n_routed_experts},
          {"n_shared_experts", c.n_shared_experts},
          {"norm_topk_prob", c.norm_topk_prob},
          {"num_attention_heads", c.num_attention_heads},
          {"num_experts_per_tok", c.num_experts_per_tok},
          {"num_hidden_layers", c.num_hidden_layers},
          {"num_key_value_heads", c.num_key_value_heads},
          {"rms_norm_eps", c.rms_norm_eps},
          {"rope_scaling", rope_scaling},
          {"rope_theta", c.rope_theta},
          {"scoring_func", c.scoring_func},
          {"seq_aux", c.seq_aux},
          {"tie_word_embeddings", c.tie_word_embeddings},
          {"torch_dtype", "float32"},
          {"use_moe", c.use_moe},
          {"vocab_size", c.vocab_size}};
}

namespace {

// Reads typed values out of one JSON object; a missing key keeps the default already in `out`, a value of the
// wrong type becomes an issue naming the key (with `prefix` for nested objects, e.g. "rope_scaling.").
class JsonFieldReader {
 public:
  JsonFieldReader(const json& object, std::string prefix, IssueList& issues)
      : object_(object), prefix_(std::move(prefix)), issues_(issues) {}

  void read(const char* key, int64_t& out) {
    const json* value = find(key);
    if (!value) return;
    if (value->is_number_unsigned()) {
      const auto unsigned_value = value->get<uint64_t>();
      if (unsigned_value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return wrong_type(key, "an integer that fits in 64 bits", *value);
      out = static_cast<int64_t>(unsigned_value);
    } else if (value->is_number_integer()) {
      out = value->get<int64_t>();
    } else if (value->is_number_float()) {
      // 512.0 is an integer written by a tool that only knows floats; 512.5 is not.
      const double number = value->get<double>();
      if (!(std::trunc(number) == number && std::abs(number) < 0x1p62))
        return wrong_type(key, "an integer", *value);
      out = static_cast<int64_t>(number);
    } else {
      wrong_type(key, "an integer", *value);
    }
  }

  void read(const char* key, double& out) {
    const json* value = find(key);
    if (!value) return;
    if (!value->is_number()) return wrong_type(key, "a number", *value);
    out = value->get<double>();
  }

  void read(const char* key, bool& out) {
    const json* value = find(key);
    if (!value) return;
    if (!value->is_boolean()) return wrong_type(key, "true or false", *value);
    out = value->get<bool>();
  }

  void read(const char* key, std::string& out) {
    const json* value = find(key);
    if (!value) return;
    if (!value->is_string()) return wrong_type(key, "a string", *value);
    out = value->get<std::string>();
  }

  // null (the seed's MiniMindConfig() before a model resolved it) leaves the size derived.
  void read(const char* key, std::optional<int64_t>& out) {
    const json* value = find(key);
    if (!value) return;
    if (value->is_null()) {
      out.reset();
      return;
    }
    int64_t number = 0;
    read(key, number);
    if (value->is_number()) out = number;
  }

  const json* find(const char* key) const {
    const auto found = object_.find(key);
    return found == object_.end() ? nullptr : &*found;
  }

  void wrong_type(const char* key, const std::string& expected, const json& found) {
    issues_.add(prefix_ + key, "expected " + expected + ", got " + describe_json_value(found));
  }

 private:
  const json& object_;
  std::string prefix_;
  IssueList& issues_;
};

}  // namespace

ModelConfig config_from_json(const json& object) {
  if (!object.is_object())
    throw ConfigError({{"(config.json)", std::string("expected a JSON object, got ") + object.type_name()}});
  ModelConfig c;
  IssueList issues;
  JsonFieldReader fields(object, "", issues);

  if (const json* model_type = fields.find("model_type"); model_type && *model_type != "minimind")
    issues.add("model_type", "must be \"minimind\", found " + describe_json_value(*model_type));

  fields.read("hidden_size", c.hidden_size);
  fields.read("num_hidden_layers", c.num_hidden_layers);
  fields.read("num_attention_heads", c.num_attention_heads);
  fields.read("num_key_value_heads", c.num_key_value_heads);
  fields.read("vocab_size", c.vocab_size);
  fields.read("intermediate_size", c.intermediate_size);
  fields.read("max_position_embeddings", c.max_position_embeddings);
  fields.read("rms_norm_eps", c.rms_norm_eps);
  fields.read("rope_theta", c.rope_theta);
  fields.read("inference_rope_scaling", c.inference_rope_scaling);
  if (const json* rope_scaling = fields.find("rope_scaling"); rope_scaling && !rope_scaling->is_null()) {
    if (!rope_scaling->is_object()) {
      fields.wrong_type("rope_scaling", "an object or null", *rope_scaling);
    } else {
      JsonFieldReader yarn(*rope_scaling, "rope_scaling.", issues);
      yarn.read("beta_fast", c.rope_scaling.beta_fast);
      yarn.read("beta_slow", c.rope_scaling.beta_slow);
      yarn.read("factor", c.rope_scaling.factor);
      yarn.read("original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings);
      // transformers copies "type" to "rope_type" when it standardizes rope_scaling; either names it.
      yarn.read(yarn.find("type") ? "type" : "rope_type", c.rope_scaling.type);
    }
  }
  fields.read("dropout", c.dropout);
  fields.read("flash_attn", c.flash_attn);
  fields.read("bos_token_id", c.bos_token_id);
  fields.read("eos_token_id", c.eos_token_id);
  fields.read("hidden_act", c.hidden_act);
  fields.read("tie_word_embeddings", c.tie_word_embeddings);
  fields.read("use_moe", c.use_moe);
  fields.read("num_experts_per_tok", c.num_experts_per_tok);
  fields.read("n_routed_experts", c.n_routed_experts);
  fields.read("n_shared_experts", c.n_shared_experts);
  fields.read("scoring_func", c.scoring_func);
  fields.read("aux_loss_alpha", c.aux_loss_alpha);
  fields.read("seq_aux", c.seq_aux);
  fields.read("norm_topk_prob", c.norm_topk_prob);

  if (!issues.empty()) throw ConfigError(issues.take());
  check_valid(c);
  return c;
}

namespace {

std::string system_error_text(int error_number) {
  return std::generic_category().message(error_number);
}

}  // namespace

ModelConfig load_config(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    throw std::runtime_error("cannot open model config " + path.string() + ": " + system_error_text(errno));
  std::stringstream text;
  text << file.rdbuf();
  json object;
  try {
    object = parse_json_document(text.str(), "model config " + path.string());
  } catch (const JsonDocumentError& error) {
    throw std::invalid_argument(error.what());
  }
  try {
    return config_from_json(object);
  } catch (const ConfigError& error) {
    throw ConfigError(error.issues(), path.string());
  }
}

void save_config(const ModelConfig& config, const std::filesystem::path& path) {
  check_valid(config);
  const std::string text = config_to_json(config).dump(2) + "\n";
  write_file_atomically(path, std::span<const char>(text.data(), text.size()));
}

}  // namespace minimind
