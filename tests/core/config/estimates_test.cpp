// Estimates against closed forms written out here matrix by matrix (embedding, q, k, v, o, gate, up, down,
// router, norms), hand-computed totals, and the sizes the seed advertises for its released models
// (MiniMind2-small 26M, MiniMind2 104M, MiniMind2-MoE 145M). FLOPs: each linear layer x[in] W[in, out]
// costs 2*in*out forward and 4*in*out backward (dX and dW) per token; causal attention is counted by a loop
// over query positions.
#include "config/estimates.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "config/presets.h"

namespace minimind {
namespace {

// The seed's MiniMind parameters, listed by name as in its state dict.
struct DenseShape {
  int64_t hidden, layers, heads, kv_heads, vocab, ffn;
};

int64_t dense_parameters_by_name(const DenseShape& s) {
  const int64_t head_dim = s.hidden / s.heads;
  const int64_t embed_tokens = s.vocab * s.hidden;  // lm_head.weight is the same tensor
  const int64_t q_proj = s.hidden * (s.heads * head_dim);
  const int64_t k_proj = s.hidden * (s.kv_heads * head_dim);
  const int64_t v_proj = k_proj;
  const int64_t o_proj = (s.heads * head_dim) * s.hidden;
  const int64_t gate_proj = s.hidden * s.ffn, up_proj = s.hidden * s.ffn, down_proj = s.ffn * s.hidden;
  const int64_t input_layernorm = s.hidden, post_attention_layernorm = s.hidden;
  const int64_t layer = q_proj + k_proj + v_proj + o_proj + gate_proj + up_proj + down_proj +
                        input_layernorm + post_attention_layernorm;
  const int64_t norm = s.hidden;
  return embed_tokens + s.layers * layer + norm;
}

TEST(Estimates, CountsTheSmallPresetByHand) {
  // embed 6400*512 = 3,276,800; per layer q 262,144 + k 65,536 + v 65,536 + o 262,144
  // + gate/up/down 3 * 512 * 1408 = 2,162,688 + norms 1,024 = 2,819,072; 8 layers 22,552,576; final norm 512.
  const ParameterCount count = count_parameters(preset("small"));
  EXPECT_EQ(count.total, 25'829'888);
  EXPECT_EQ(count.total, dense_parameters_by_name({512, 8, 8, 2, 6400, 1408}));
  EXPECT_EQ(count.active, count.total) << "a dense model uses every parameter for every token";
  EXPECT_EQ(count.embedding, 3'276'800);
  EXPECT_EQ(count.per_layer, 2'819'072);
  EXPECT_EQ(std::llround(count.total / 1e6), 26) << "the seed advertises MiniMind2-small as 26M";
}

TEST(Estimates, CountsEveryDensePresetByName) {
  const std::vector<std::pair<std::string, DenseShape>> presets = {{"tiny", {256, 4, 8, 2, 6400, 704}},
                                                                   {"small", {512, 8, 8, 2, 6400, 1408}},
                                                                   {"medium", {1024, 16, 16, 4, 32000, 2752}},
                                                                   {"large", {2048, 24, 32, 8, 32000, 5504}},
                                                                   {"long", {512, 8, 8, 2, 6400, 1408}}};
  for (const auto& [name, shape] : presets)
    EXPECT_EQ(count_parameters(preset(name)).total, dense_parameters_by_name(shape)) << name;
  EXPECT_EQ(count_parameters(preset("tiny")).total, 4'458'752);
}

TEST(Estimates, MatchesTheSeedsAdvertisedMiniMind2) {
  ModelConfig minimind2;  // 104M: hidden 768, 16 layers
  minimind2.hidden_size = 768;
  minimind2.num_hidden_layers = 16;
  const ParameterCount count = count_parameters(minimind2);
  EXPECT_EQ(count.total, dense_parameters_by_name({768, 16, 8, 2, 6400, 2048}));
  EXPECT_EQ(count.total, 104'030'976);
  EXPECT_EQ(std::llround(count.total / 1e6), 104);
}

TEST(Estimates, CountsMixtureOfExpertsTotalAndActive) {
  ModelConfig moe;  // MiniMind2-MoE, 145M: hidden 640, 8 layers, 1 shared + 4 routed experts, top-2
  moe.hidden_size = 640;
  moe.use_moe = true;
  const int64_t hidden = 640, ffn = 1728, layers = 8;
  const int64_t expert = 3 * hidden * ffn;  // gate, up, down: 3,317,760
  const int64_t router = hidden * 4;        // mlp.gate.weight [n_routed_experts, hidden]
  const int64_t attention = hidden * 640 + 2 * hidden * 160 + 640 * hidden;
  const int64_t per_layer = attention + router + (4 + 1) * expert + 2 * hidden;
  const ParameterCount count = count_parameters(moe);
  EXPECT_EQ(moe.ffn_size(), ffn);
  EXPECT_EQ(count.per_layer, per_layer);
  EXPECT_EQ(count.total, 6400 * hidden + layers * per_layer + hidden);
  EXPECT_EQ(count.total, 145'029'760);
  EXPECT_EQ(std::llround(count.total / 1e6), 145) << "the seed advertises MiniMind2-MoE as 145M";
  // One token: the router, the shared expert and 2 of the 4 routed experts; 2 experts idle in every layer.
  EXPECT_EQ(count.active, count.total - layers * 2 * expert);
  EXPECT_EQ(count.active, 91'945'600);

  moe.n_shared_experts = 0;
  moe.num_experts_per_tok = 4;  // every routed expert for every token
  EXPECT_EQ(count_parameters(moe).active, count_parameters(moe).total);
}

// Per-token training FLOPs from first principles: every linear layer a token passes through, then the
// causal attention products summed over the query positions of one sequence.
double flops_by_layer(const ModelConfig& c, int64_t seq_len, int64_t experts_per_token) {
  auto linear = [](double in, double out) { return 2 * in * out + 4 * in * out; };
  const double h = static_cast<double>(c.hidden_size), q = static_cast<double>(c.q_dim()),
               kv = static_cast<double>(c.kv_dim()), f = static_cast<double>(c.ffn_size());
  double per_layer = linear(h, q) + 2 * linear(h, kv) + linear(q, h) +
                     static_cast<double>(experts_per_token) * (2 * linear(h, f) + linear(f, h));
  if (c.use_moe) per_layer += linear(h, static_cast<double>(c.n_routed_experts));
  double attention = 0;
  for (int64_t t = 0; t < seq_len; ++t) {
    const double keys_seen = static_cast<double>(t + 1);
    attention += 3 * (2 * q * keys_seen + 2 * q * keys_seen);  // QK^T and PV, forward and backward
  }
  attention /= static_cast<double>(seq_len);
  return static_cast<double>(c.num_hidden_layers) * (per_layer + attention) +
         linear(h, static_cast<double>(c.vocab_size));
}

TEST(Estimates, TrainingFlopsPerToken) {
  // Small, 512 tokens: 6 * (8 * (655,360 + 2,162,688) + 3,276,800) + 6 * 8 * 512 * 512, by hand.
  EXPECT_EQ(training_flops_per_token(preset("small"), 512), 167'510'016.0);
  // MoE, 256 tokens: the router, 1 shared and 2 routed experts per layer.
  EXPECT_EQ(training_flops_per_token(preset("moe"), 256),
            6.0 * (8 * (655'360 + 512 * 4 + 3 * 2'162'688) + 3'276'800) + 6.0 * 8 * 512 * 256);
  // Against the position-by-position count: the closed form takes seq_len / 2 keys per query where the
  // causal mask gives (seq_len + 1) / 2 on average, so they differ by less than 1 / seq_len.
  for (const char* name : {"tiny", "small", "medium", "moe"}) {
    const ModelConfig c = preset(name);
    for (const int64_t seq_len : {int64_t{64}, int64_t{512}, int64_t{2048}}) {
      const double exact =
          flops_by_layer(c, seq_len, c.use_moe ? c.n_shared_experts + c.num_experts_per_tok : 1);
      const double estimate = training_flops_per_token(c, seq_len);
      EXPECT_LT(estimate, exact) << name << " " << seq_len;
      EXPECT_NEAR(estimate / exact, 1.0, 1.0 / static_cast<double>(seq_len)) << name << " " << seq_len;
    }
  }
  EXPECT_THROW(training_flops_per_token(preset("small"), 0), std::invalid_argument);
  EXPECT_THROW(training_flops_per_token(preset("small"), 32769), std::invalid_argument);
}

TEST(Estimates, MemoryOfATrainingStep) {
  const int64_t parameters = 25'829'888;
  // RoPE: cos and sin, [max_position_embeddings 32768, head_dim 64] each, f32.
  const int64_t rope_tables = 2 * 32768 * 64 * 4;
  const MemoryEstimate memory = estimate_memory(preset("small"), 32, 512, 1'000'000);
  EXPECT_EQ(memory.weights_bytes, 4 * parameters);
  EXPECT_EQ(memory.rope_tables_bytes, rope_tables);
  EXPECT_EQ(memory.gradients_bytes, 4 * parameters);
  EXPECT_EQ(memory.optimizer_bytes, 8 * parameters);
  EXPECT_EQ(memory.activations_bytes, 1'000'000);
  EXPECT_EQ(memory.kv_cache_bytes, 0);
  EXPECT_EQ(memory.total(), 16 * parameters + rope_tables + 1'000'000);
  // Gradients and moments exist for every expert, used by a token or not.
  const ParameterCount moe = count_parameters(preset("moe"));
  EXPECT_EQ(estimate_memory(preset("moe"), 1, 1, 0).total(), 16 * moe.total + rope_tables);
  // In f64 (gradient checks, minimind forward --dtype f64) every per-value part doubles.
  EXPECT_EQ(estimate_memory(preset("small"), 32, 512, 0, {Device::cpu, Precision::f64()}).total(),
            32 * parameters + 2 * rope_tables);

  EXPECT_THROW(estimate_memory(preset("small"), 0, 512, 0), std::invalid_argument);
  EXPECT_THROW(estimate_memory(preset("small"), 1, 0, 0), std::invalid_argument);
  EXPECT_THROW(estimate_memory(preset("small"), 1, 32769, 0), std::invalid_argument);
  EXPECT_THROW(estimate_memory(preset("small"), 1, 512, -1), std::invalid_argument);
  // A plan too large to count saturates: the total is INT64_MAX, never a wrapped negative number.
  EXPECT_EQ(estimate_memory(preset("small"), 1, 512, std::numeric_limits<int64_t>::max()).total(),
            std::numeric_limits<int64_t>::max());
}

TEST(Estimates, MemoryOfATrainingStepOnAGpuInMixedPrecision) {
  // precision.h's roles for bf16 compute: master weights, gradients and both AdamW moments f32, a bf16 copy
  // of the weights for the products, RoPE tables (statistics) f32; and the CUDA backend's own buffers: 32 MiB
  // of cuBLASLt workspace and 4 MiB of staging.
  const int64_t parameters = 25'829'888, rope_tables = 2 * 32768 * 64 * 4;
  const MemoryTarget gpu = MemoryTarget::for_device(Device::cuda);
  EXPECT_EQ(gpu, (MemoryTarget{Device::cuda, Precision::bf16_mixed()}));
  EXPECT_EQ(MemoryTarget::for_device(Device::cpu), MemoryTarget{});
  // The run's precision choice, as the trainer resolves it on each device.
  EXPECT_EQ(MemoryTarget::for_choice(Device::cuda, "auto"), gpu);
  EXPECT_EQ(MemoryTarget::for_choice(Device::cuda, "bf16"), gpu);
  EXPECT_EQ(MemoryTarget::for_choice(Device::cuda, "f32"), (MemoryTarget{Device::cuda, Precision::f32()}));
  EXPECT_EQ(MemoryTarget::for_choice(Device::cpu, "auto"), MemoryTarget{});
  EXPECT_EQ(MemoryTarget::for_choice(Device::cpu, "bf16"), MemoryTarget{}) << "the CPU continues in f32";
  EXPECT_THROW(MemoryTarget::for_choice(Device::cpu, "fp16"), std::invalid_argument);
  const MemoryEstimate memory = estimate_memory(preset("small"), 32, 512, 1'000'000, gpu);
  EXPECT_EQ(memory.weights_bytes, 4 * parameters);
  EXPECT_EQ(memory.compute_weights_bytes, 2 * parameters);
  EXPECT_EQ(memory.gradients_bytes, 4 * parameters);
  EXPECT_EQ(memory.optimizer_bytes, 8 * parameters);
  EXPECT_EQ(memory.rope_tables_bytes, rope_tables);
  EXPECT_EQ(memory.activations_bytes, 1'000'000);
  const int64_t gpu_buffers = (32 << 20) + (4 << 20);
  EXPECT_EQ(memory.gpu_buffers_bytes, gpu_buffers);
  EXPECT_EQ(kGpuBuffersBytes, gpu_buffers);
  EXPECT_EQ(memory.total(), 18 * parameters + rope_tables + 1'000'000 + gpu_buffers);
  // The CPU in f32 keeps no compute copy and no GPU buffers.
  const MemoryEstimate cpu = estimate_memory(preset("small"), 32, 512, 1'000'000);
  EXPECT_EQ(cpu.compute_weights_bytes, 0);
  EXPECT_EQ(cpu.gpu_buffers_bytes, 0);
  EXPECT_EQ(memory.total() - cpu.total(), 2 * parameters + gpu_buffers);
  // The same at any batch: the batch's device copies are the plan's, counted with the activations.
  EXPECT_EQ(estimate_memory(preset("small"), 1, 1, 0, gpu).gpu_buffers_bytes, gpu_buffers);
}

TEST(Estimates, TheTotalIsTheSumOfTheParts) {
  const ModelConfig small = preset("small");
  for (const MemoryTarget& target : {MemoryTarget{}, MemoryTarget{Device::cpu, Precision::f64()},
                                     MemoryTarget::for_device(Device::cuda)}) {
    for (const MemoryEstimate& e : {estimate_memory(small, 8, 256, 12'345, target),
                                    estimate_evaluation_memory(small, 8, 256, 678, target),
                                    estimate_generation_memory(small, 2, 10, 50, 910, target)}) {
      const int64_t fields = e.weights_bytes + e.compute_weights_bytes + e.rope_tables_bytes +
                             e.gradients_bytes + e.optimizer_bytes + e.activations_bytes + e.kv_cache_bytes +
                             e.logits_bytes + e.gpu_buffers_bytes;
      int64_t parts = 0;
      for (const MemoryEstimate::Part& part : e.parts()) parts += part.bytes;
      EXPECT_EQ(e.total(), fields);
      EXPECT_EQ(parts, fields);
    }
  }
}

TEST(Estimates, GenerationOnAGpuHoldsItsCacheInTheComputeDtype) {
  const ModelConfig small = preset("small");
  const MemoryEstimate gpu =
      estimate_generation_memory(small, 3, 20, 100, 7'000, MemoryTarget::for_device(Device::cuda));
  EXPECT_EQ(gpu.kv_cache_bytes, kv_cache_bytes(small, 3, 100, DType::bf16));
  EXPECT_EQ(gpu.logits_bytes, 3 * 6400 * 2 + 3 * 6400 * 4) << "the last rows (bf16) and the seen marks (i32)";
  EXPECT_EQ(gpu.gradients_bytes, 0);
  EXPECT_EQ(gpu.optimizer_bytes, 0);
  EXPECT_EQ(gpu.gpu_buffers_bytes, kGpuBuffersBytes);
}

TEST(Estimates, PartsComeLargestFirstWithoutTheEmptyOnes) {
  const MemoryEstimate memory = estimate_memory(preset("small"), 32, 512, 1'000'000);
  const std::vector<MemoryEstimate::Part> parts = memory.parts();
  ASSERT_EQ(parts.size(), 5u);
  EXPECT_STREQ(parts[0].name, "AdamW state");
  EXPECT_STREQ(parts[1].name, "weights");
  EXPECT_STREQ(parts[2].name, "gradients");
  EXPECT_STREQ(parts[3].name, "RoPE tables");
  EXPECT_STREQ(parts[4].name, "activations");
}

TEST(Estimates, MemoryOfEvaluationAndGeneration) {
  const ModelConfig small = preset("small");  // 8 layers, 2 kv heads of 64, vocab 6400
  const int64_t parameters = 25'829'888, rope_tables = 2 * 32768 * 64 * 4;
  const MemoryEstimate evaluation = estimate_evaluation_memory(small, 4, 256, 5'000);
  EXPECT_EQ(evaluation.total(), 4 * parameters + rope_tables + 5'000) << "no gradients, no optimizer state";

  // The cache of 3 sequences of 100 positions: keys and values [3, 100, 2, 64] f32 in each of 8 layers, and
  // an i32 key mask [3, 100] on the device and on the host.
  const int64_t cache = 8 * 2 * (3 * 100 * 2 * 64 * 4) + 2 * (3 * 100 * 4);
  EXPECT_EQ(kv_cache_bytes(small, 3, 100), cache);
  const MemoryEstimate generation = estimate_generation_memory(small, 3, 20, 100, 7'000);
  EXPECT_EQ(generation.kv_cache_bytes, cache);
  const int64_t next_token_rows = 3 * 6400 * 4 + 3 * 6400 * 4;  // the last logits (f32) and the seen marks
  EXPECT_EQ(generation.logits_bytes, next_token_rows);
  EXPECT_EQ(generation.total(), 4 * parameters + rope_tables + cache + next_token_rows + 7'000);
  EXPECT_THROW(estimate_generation_memory(small, 3, 20, 19, 0), std::invalid_argument) << "capacity < prompt";
  EXPECT_THROW(kv_cache_bytes(small, 1, 32769), std::invalid_argument);
  // A batch the config does not bound saturates.
  EXPECT_EQ(kv_cache_bytes(small, std::numeric_limits<int64_t>::max() / 2, 32768),
            std::numeric_limits<int64_t>::max());
}

TEST(Estimates, RefuseInvalidConfigs) {
  ModelConfig broken;
  broken.num_attention_heads = 0;
  EXPECT_THROW(count_parameters(broken), ConfigError);
  EXPECT_THROW(training_flops_per_token(broken, 16), ConfigError);
  EXPECT_THROW(estimate_memory(broken, 1, 16, 0), ConfigError);
}

}  // namespace
}  // namespace minimind
