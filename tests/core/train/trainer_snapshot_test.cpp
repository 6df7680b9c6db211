// Snapshots of the weights being trained, against the checkpoints the same run writes: a snapshot asked for
// during step k (from the training thread or another one) holds exactly the weights of the checkpoint of the
// step it reports; one pending at the end holds the final weights; a paused run still answers; a trainer that
// is not running fails the future at once. The probe prompt changed during a run is the one the next probe
// uses.
#include "train/trainer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "backend/cpu/cpu_backend.h"
#include "config/resources.h"
#include "model/model_dir.h"
#include "support/random_shards.h"
#include "support/scratch_directory.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"

namespace minimind {
namespace {

using namespace std::chrono_literals;

ModelConfig snapshot_model(int64_t vocab_size = 64) {
  ModelConfig c;
  c.hidden_size = 16;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.vocab_size = vocab_size;
  c.intermediate_size = 32;
  c.max_position_embeddings = 64;
  return c;
}

void write_shards(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(3);
  write_random_shard(dir / "train.shard", 64, 60, 10, 5, rng);
}

TrainConfig snapshot_run(const ScratchDirectory& dir, const std::string& run) {
  TrainConfig c;
  c.data_dir = dir / "data";
  c.run_dir = dir / run;
  c.batch_size = 2;
  c.seq_len = 8;
  c.accumulation_steps = 2;
  c.max_steps = 10;
  c.eval_every = 0;
  c.save_every = 1;  // a checkpoint of every step to compare with
  c.keep_last = 100;
  c.seed = 4;
  c.threads = 1;
  return c;
}

std::vector<float> weights_of(const ModelSnapshot& snapshot) {
  return {snapshot.weights.data<float>(), snapshot.weights.data<float>() + snapshot.weights.numel()};
}

std::vector<float> checkpoint_weights(const std::filesystem::path& run_dir, int64_t step, CpuBackend& backend) {
  auto model = load_model(run_dir / "checkpoints" / checkpoint_directory_name(step), backend);
  const Tensor& p = model->parameters().buffer();
  return {p.data<float>(), p.data<float>() + p.numel()};
}

TEST(TrainerSnapshot, NotRunningFailsAtOnce) {
  ScratchDirectory dir;
  write_shards(dir / "data");
  CpuBackend backend(1);
  EventStream events;
  TrainConfig config = snapshot_run(dir, "run");
  config.max_steps = 2;
  Trainer trainer(config, snapshot_model(), backend, events);
  std::future<ModelSnapshot> before = trainer.request_snapshot();
  ASSERT_EQ(before.wait_for(0s), std::future_status::ready);
  try {
    before.get();
    FAIL() << "a snapshot of a run that is not running";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not running"), std::string::npos) << e.what();
  }
  trainer.run();
  events.close();
  std::future<ModelSnapshot> after = trainer.request_snapshot();
  ASSERT_EQ(after.wait_for(0s), std::future_status::ready);
  EXPECT_THROW(after.get(), std::runtime_error);
}

TEST(TrainerSnapshot, EqualsTheCheckpointOfItsStepAndTheFinalWeights) {
  ScratchDirectory dir;
  write_shards(dir / "data");
  CpuBackend backend(1);
  EventStream events;
  Trainer trainer(snapshot_run(dir, "run"), snapshot_model(), backend, events);
  std::future<ModelSnapshot> during, at_end;
  // Asked on the training thread after step 3's backward: served before step 4's first micro-step, when the
  // weights are those of 4 optimizer steps.
  trainer.set_gradient_hook([&](int64_t step, Tensor&) {
    if (step == 3) during = trainer.request_snapshot();
    if (step == 9) at_end = trainer.request_snapshot();  // the last step: served with the final weights
  });
  // And from another thread while the run goes.
  std::atomic<bool> started{false};
  events.subscribe([&](const Event& e) {
    if (std::holds_alternative<StepMetrics>(e)) started = true;
  });
  std::thread runner([&] { trainer.run(); });
  while (!started) std::this_thread::sleep_for(1ms);
  std::future<ModelSnapshot> concurrent = trainer.request_snapshot();
  runner.join();
  events.close();

  const ModelSnapshot snapshot = during.get();
  EXPECT_EQ(snapshot.step, 4);
  EXPECT_EQ(snapshot.config.hidden_size, 16);
  EXPECT_EQ(weights_of(snapshot), checkpoint_weights(dir / "run", 4, backend));

  const ModelSnapshot last = at_end.get();
  EXPECT_EQ(last.step, 10);
  EXPECT_EQ(weights_of(last), checkpoint_weights(dir / "run", 10, backend));
  EXPECT_NE(weights_of(last), weights_of(snapshot));

  const ModelSnapshot other = concurrent.get();
  ASSERT_GE(other.step, 1);
  ASSERT_LE(other.step, 10);
  EXPECT_EQ(weights_of(other), checkpoint_weights(dir / "run", other.step, backend));

  // Rebuilt on another backend, the model holds the same weights.
  CpuBackend elsewhere(1);
  auto rebuilt = model_from_snapshot(last, elsewhere);
  const Tensor& p = rebuilt->parameters().buffer();
  EXPECT_EQ(std::vector<float>(p.data<float>(), p.data<float>() + p.numel()), weights_of(last));
}

TEST(TrainerSnapshot, APausedRunAnswers) {
  ScratchDirectory dir;
  write_shards(dir / "data");
  CpuBackend backend(1);
  EventStream events;
  Trainer trainer(snapshot_run(dir, "run"), snapshot_model(), backend, events);
  std::atomic<bool> saw_pause{false};
  trainer.set_gradient_hook([&](int64_t step, Tensor&) {
    if (step == 2) trainer.request_pause();
  });
  events.subscribe([&](const Event& e) {
    if (const auto* w = std::get_if<Warning>(&e); w && w->message == "paused") saw_pause = true;
  });
  std::thread runner([&] { trainer.run(); });
  while (!saw_pause) std::this_thread::sleep_for(1ms);
  std::future<ModelSnapshot> future = trainer.request_snapshot();
  const bool answered = future.wait_for(20s) == std::future_status::ready;
  trainer.request_resume();
  runner.join();
  events.close();
  ASSERT_TRUE(answered) << "a paused run did not serve the snapshot";
  const ModelSnapshot snapshot = future.get();
  EXPECT_EQ(snapshot.step, 3);  // paused before step 3's first micro-step
  EXPECT_EQ(weights_of(snapshot), checkpoint_weights(dir / "run", 3, backend));
}

TEST(TrainerSnapshot, TheProbePromptCanChangeDuringTheRun) {
  ScratchDirectory dir;
  write_shards(dir / "data");
  CpuBackend backend(1);
  EventStream events;
  TrainConfig config = snapshot_run(dir, "run");
  config.max_steps = 4;
  config.save_every = 0;
  config.sample_every = 2;
  config.sample_tokens = 2;
  config.tokenizer = default_tokenizer_dir() / "tokenizer.json";
  config.probe_prompt = "Once upon";
  Trainer trainer(config, snapshot_model(6400), backend, events);
  std::mutex mutex;
  std::vector<std::pair<int64_t, std::vector<std::string>>> maps;
  std::vector<std::string> sample_prompts;
  events.subscribe([&](const Event& e) {
    std::lock_guard lock(mutex);
    if (const auto* m = std::get_if<AttentionMaps>(&e)) maps.emplace_back(m->step, m->tokens);
    if (const auto* s = std::get_if<SampleText>(&e)) sample_prompts.push_back(s->prompt);
  });
  trainer.set_gradient_hook([&](int64_t step, Tensor&) {
    if (step == 2) trainer.set_probe_prompt("A red fox");
  });
  trainer.run();
  events.close();
  const Tokenizer tokenizer = Tokenizer::load(config.tokenizer);
  auto pieces = [&](const std::string& text) {
    std::vector<std::string> out;
    for (int32_t id : tokenizer.encode(text)) out.push_back(tokenizer.decode(std::span<const int32_t>(&id, 1)));
    return out;
  };
  // Attention maps are heavy snapshots: a lagging subscriber may get only the latest, so the step-2 map is
  // checked only when it arrived. Sample texts are never dropped.
  ASSERT_FALSE(maps.empty());
  EXPECT_EQ(maps.back().first, 4);
  EXPECT_EQ(maps.back().second, pieces("A red fox"));
  if (maps.size() == 2) {
    EXPECT_EQ(maps.front().first, 2);
    EXPECT_EQ(maps.front().second, pieces("Once upon"));
  }
  EXPECT_EQ(sample_prompts, (std::vector<std::string>{"Once upon", "A red fox"}));
}

}  // namespace
}  // namespace minimind
