// The memory estimates against what a run really holds: the live heap bytes as glibc's allocator accounts
// them (mallinfo2: every arena and every mmapped chunk) measured before the workload and at its peak, for a
// training step through the Trainer, an evaluation forward and a generation's prefill, dense and MoE.
// Reference: the allocator's own count. Margin: the estimate is within 5% of the growth, which the
// preflight's 10% margin covers twice over.
#include "model/memory_plan.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "backend/cpu/cpu_backend.h"
#include "config/resources.h"
#include "infer/generator.h"
#include "model/minimind_model.h"
#include "support/random_shards.h"
#include "support/scratch_directory.h"
#include "tokenizer/tokenizer.h"
#include "train/trainer.h"

namespace minimind {
namespace {

constexpr double kMargin = 0.05;

int64_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<int64_t>(info.uordblks + info.hblkhd);
}

ModelConfig measured_model(bool moe) {
  ModelConfig c;
  c.hidden_size = 128;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 8;
  c.num_key_value_heads = 2;
  c.vocab_size = 6400;  // the default tokenizer's, for generation
  c.intermediate_size = 384;
  c.max_position_embeddings = 512;
  c.use_moe = moe;
  return c;
}

void expect_close(int64_t estimate, int64_t measured, const std::string& what) {
  std::printf("[          ] %s: estimate %lld, measured %lld (%+.2f%%)\n", what.c_str(), (long long)estimate,
              (long long)measured,
              100.0 * (static_cast<double>(measured) / static_cast<double>(estimate) - 1));
  EXPECT_NEAR(static_cast<double>(measured), static_cast<double>(estimate),
              kMargin * static_cast<double>(estimate))
      << what;
}

class MemoryPlanTest : public ::testing::TestWithParam<bool> {};

TEST_P(MemoryPlanTest, TrainingStepHoldsWhatTheEstimateSays) {
  const bool moe = GetParam();
  const ModelConfig config = measured_model(moe);
  ScratchDirectory dir;
  std::filesystem::create_directories(dir.path() / "data");
  std::mt19937_64 rng(3);
  write_random_shard(dir.path() / "data/train.shard", config.vocab_size, 40, 200, 50, rng);
  TrainConfig train;
  train.data_dir = dir.path() / "data";
  train.run_dir = dir.path() / "run";
  train.batch_size = 4;
  train.seq_len = 128;
  train.max_steps = 2;
  train.eval_every = 0;
  train.save_every = 0;
  CpuBackend backend(2);
  EventStream events;

  const int64_t before = heap_in_use();
  int64_t peak = 0;
  {
    Trainer trainer(train, config, backend, events);
    // After the backward every buffer of the step is alive: weights, moments, gradients, the whole plan.
    trainer.set_gradient_hook([&](int64_t, Tensor&) { peak = std::max(peak, heap_in_use()); });
    trainer.run();
  }
  expect_close(training_memory(config, train.batch_size, train.seq_len).total(), peak - before,
               moe ? "MoE training" : "dense training");
}

TEST_P(MemoryPlanTest, EvaluationForwardHoldsWhatTheEstimateSays) {
  const ModelConfig config = measured_model(GetParam());
  CpuBackend backend(2);
  const int64_t batch = 3, seq_len = 100;
  Batch input{
      Tensor::zeros({batch, seq_len}, DType::i32), Tensor::zeros({batch, seq_len}, DType::i32), {}, {}};
  const int64_t before = heap_in_use();
  int64_t peak = 0;
  {
    MiniMindModel model(config, backend);
    model.forward(input, false);
    peak = heap_in_use();
  }
  expect_close(evaluation_memory(config, batch, seq_len).total(), peak - before,
               GetParam() ? "MoE evaluation" : "dense evaluation");
}

TEST_P(MemoryPlanTest, GenerationPrefillHoldsWhatTheEstimateSays) {
  const ModelConfig config = measured_model(GetParam());
  CpuBackend backend(2);
  const Tokenizer tokenizer = Tokenizer::load(default_tokenizer_dir() / "tokenizer.json");
  const std::vector<std::vector<int32_t>> prompts(5, std::vector<int32_t>(40, 100));
  GenerationOptions options;
  options.max_new_tokens = 300;
  options.stop_ids = std::vector<int32_t>{};
  const int64_t before = heap_in_use();
  int64_t peak = 0;
  {
    MiniMindModel model(config, backend);
    Generator generator(model, tokenizer);
    // The first token of each sequence is sampled from the prefill: its plan, logits and the cache are alive.
    generator.generate(prompts, options, [&](int64_t, int32_t, std::string_view) {
      peak = std::max(peak, heap_in_use());
      return false;
    });
  }
  expect_close(generation_memory(config, 5, 40, options.max_new_tokens).total(), peak - before,
               GetParam() ? "MoE generation" : "dense generation");
}

INSTANTIATE_TEST_SUITE_P(DenseAndMoe, MemoryPlanTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "moe" : "dense"; });

}  // namespace
}  // namespace minimind
