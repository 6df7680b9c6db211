// Building a ModelConfig from --preset / --config and field overrides.
#include "cli/model_options.h"

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "config/presets.h"
#include "io/strict_json.h"
#include "train/run_config.h"

namespace minimind::cli {

std::vector<Option> model_options() {
  return {
      {"preset", "NAME", "tiny, small, medium, large, moe or long (default: tiny)"},
      {"config", "FILE",
       "a config.json, or a run config saved by the lab (its model, and for train its settings as the "
       "defaults that flags override), instead of a preset"},
      {"hidden_size", "N", "width of the residual stream"},
      {"num_hidden_layers", "N", "number of blocks"},
      {"num_attention_heads", "N", "query heads"},
      {"num_key_value_heads", "N", "key/value heads (grouped-query attention)"},
      {"vocab_size", "N", "tokenizer vocabulary size"},
      {"intermediate_size", "N", "FFN width (default: 8/3 hidden rounded up to 64)"},
      {"max_position_embeddings", "N", "length of the RoPE table"},
      {"rope_theta", "X", "RoPE base"},
      {"inference_rope_scaling", "BOOL", "YaRN scaling of the RoPE table"},
      {"dropout", "P", "dropout probability in training"},
      {"use_moe", "BOOL", "mixture-of-experts FFN"},
      {"n_routed_experts", "N", "routed experts per MoE layer"},
      {"num_experts_per_tok", "N", "experts each token is routed to (top-k)"},
      {"n_shared_experts", "N", "experts every token goes through"},
      {"aux_loss_alpha", "X", "weight of the load-balancing loss"},
      {"seq_aux", "BOOL", "per-sequence load-balancing loss"},
      {"norm_topk_prob", "BOOL", "renormalise the top-k router weights"},
  };
}

ConfigFile read_config_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    throw std::runtime_error("cannot open --config " + path.string() + ": " + std::generic_category().message(errno));
  std::stringstream text;
  text << file.rdbuf();
  nlohmann::json object;
  try {
    object = parse_json_document(text.str(), "--config " + path.string());
  } catch (const JsonDocumentError& error) {
    throw std::invalid_argument(error.what());
  }
  if (is_run_config(object)) {
    RunConfig run = run_config_from_json(object, path.string());
    return {std::move(run.model), std::move(run.train)};
  }
  try {
    return {config_from_json(object), std::nullopt};
  } catch (const ConfigError& error) {
    throw ConfigError(error.issues(), path.string());
  }
}

ModelConfig model_config_from(const Arguments& args) {
  if (args.has("preset") && args.has("config")) throw UsageError("give either --preset or --config, not both");
  ModelConfig c = args.has("config") ? read_config_file(args.text("config")).model : preset(args.text("preset", "tiny"));
  auto set_int = [&](const char* name, int64_t& field) {
    if (auto v = args.optional_integer(name)) field = *v;
  };
  set_int("hidden_size", c.hidden_size);
  set_int("num_hidden_layers", c.num_hidden_layers);
  set_int("num_attention_heads", c.num_attention_heads);
  set_int("num_key_value_heads", c.num_key_value_heads);
  set_int("vocab_size", c.vocab_size);
  set_int("max_position_embeddings", c.max_position_embeddings);
  set_int("n_routed_experts", c.n_routed_experts);
  set_int("num_experts_per_tok", c.num_experts_per_tok);
  set_int("n_shared_experts", c.n_shared_experts);
  if (auto v = args.optional_integer("intermediate_size")) c.intermediate_size = *v;
  if (auto v = args.optional_number("rope_theta")) c.rope_theta = *v;
  if (auto v = args.optional_number("dropout")) c.dropout = *v;
  if (auto v = args.optional_number("aux_loss_alpha")) c.aux_loss_alpha = *v;
  if (auto v = args.optional_bool("inference_rope_scaling")) c.inference_rope_scaling = *v;
  if (auto v = args.optional_bool("use_moe")) c.use_moe = *v;
  if (auto v = args.optional_bool("seq_aux")) c.seq_aux = *v;
  if (auto v = args.optional_bool("norm_topk_prob")) c.norm_topk_prob = *v;
  check_valid(c);
  return c;
}

}  // namespace minimind::cli
