// The presets: small is the seed's default MiniMind (MiniMind2-small, 26M parameters); the others change
// only the fields they name, keeping the seed's defaults for everything else.
#include "config/presets.h"

#include <stdexcept>

namespace minimind {

namespace {

ModelConfig sized(int64_t hidden_size, int64_t num_hidden_layers, int64_t num_attention_heads,
                  int64_t num_key_value_heads, int64_t vocab_size) {
  ModelConfig config;
  config.hidden_size = hidden_size;
  config.num_hidden_layers = num_hidden_layers;
  config.num_attention_heads = num_attention_heads;
  config.num_key_value_heads = num_key_value_heads;
  config.vocab_size = vocab_size;
  return config;
}

}  // namespace

std::vector<std::string> preset_names() {
  return {"tiny", "small", "medium", "large", "moe", "long"};
}

ModelConfig preset(std::string_view name) {
  // tiny: about 4.5M parameters, small enough that loss curves move within minutes on 2 CPU cores.
  if (name == "tiny") return sized(256, 4, 8, 2, 6400);
  if (name == "small") return ModelConfig{};
  if (name == "medium") return sized(1024, 16, 16, 4, 32000);
  if (name == "large") return sized(2048, 24, 32, 8, 32000);
  if (name == "moe") {
    ModelConfig config;
    config.use_moe = true;
    return config;
  }
  if (name == "long") {
    // The seed's inference-time YaRN: RoPE frequencies stretched beyond the 2048 positions of training.
    ModelConfig config;
    config.inference_rope_scaling = true;
    config.max_position_embeddings = 32768;
    return config;
  }
  std::string available;
  for (const std::string& known : preset_names()) available += (available.empty() ? "" : ", ") + known;
  throw std::invalid_argument("unknown model preset \"" + std::string(name) + "\"; available: " + available);
}

}  // namespace minimind
