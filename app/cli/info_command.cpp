// minimind info: what a configuration costs before anything is allocated.
#include <cstdio>
#include <iostream>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/model_options.h"
#include "config/estimates.h"
#include "model/memory_plan.h"
#include "text/byte_size.h"

namespace minimind::cli {

int info_command(int argc, char** argv) {
  std::vector<Option> options = model_options();
  options.push_back({"batch_size", "N", "sequences per step for the memory estimate (default 32)"});
  options.push_back({"seq_len", "N", "tokens per sequence (default 512)"});
  Arguments args("info", options, argc, argv);
  if (args.help_requested()) {
    std::cout << "minimind info: parameters, FLOPs per token and memory of a configuration\n\n" << args.usage();
    return 0;
  }
  const ModelConfig config = model_config_from(args);
  const int64_t batch = args.integer("batch_size", 32), seq_len = args.integer("seq_len", 512);
  if (batch <= 0 || seq_len <= 0) throw UsageError("--batch_size and --seq_len must be positive");
  const ParameterCount params = count_parameters(config);
  if (seq_len > config.max_position_embeddings)
    throw UsageError("--seq_len " + std::to_string(seq_len) + " exceeds max_position_embeddings " +
                     std::to_string(config.max_position_embeddings));
  const MemoryEstimate memory = training_memory(config, batch, seq_len);
  std::printf("model: hidden %lld, %lld layers, %lld heads (%lld kv), head_dim %lld, ffn %lld, vocab %lld%s\n",
              (long long)config.hidden_size, (long long)config.num_hidden_layers,
              (long long)config.num_attention_heads, (long long)config.num_key_value_heads,
              (long long)config.head_dim(), (long long)config.ffn_size(), (long long)config.vocab_size,
              config.use_moe ? ", MoE" : "");
  std::printf("parameters: %.3f M total, %.3f M active per token\n", params.total / 1e6, params.active / 1e6);
  std::printf("training FLOPs per token at seq_len %lld: %.1f MFLOP\n", (long long)seq_len,
              training_flops_per_token(config, seq_len) / 1e6);
  std::printf(
      "training memory at batch %lld x %lld (fp32): weights %s, RoPE tables %s, gradients %s, AdamW %s, "
      "activations %s, total %s\n",
      (long long)batch, (long long)seq_len, format_bytes(memory.weights_bytes).c_str(),
      format_bytes(memory.rope_tables_bytes).c_str(), format_bytes(memory.gradients_bytes).c_str(),
      format_bytes(memory.optimizer_bytes).c_str(), format_bytes(memory.activations_bytes).c_str(),
      format_bytes(memory.total()).c_str());
  return 0;
}

}  // namespace minimind::cli
