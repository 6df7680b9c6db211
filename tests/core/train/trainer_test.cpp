// The training session on real shards and run directories: the same seed gives the same loss curve bit for
// bit; a run stopped (from another thread's request) and resumed equals an uninterrupted one bit for bit; a
// NaN gradient is skipped and reported, and a run of them stops the run with the last checkpoint loadable.
#include "train/trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <mutex>
#include <random>
#include <thread>

#include "backend/cpu/cpu_backend.h"
#include "support/scratch_directory.h"
#include "data/token_shard.h"
#include "model/model_dir.h"
#include "train/checkpoint.h"

namespace minimind {
namespace {

ModelConfig small_model() {
  ModelConfig c;
  c.hidden_size = 16;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.vocab_size = 64;
  c.intermediate_size = 32;
  c.max_position_embeddings = 64;
  c.dropout = 0.1;  // dropout masks must also repeat exactly
  return c;
}

void write_shards(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int32_t> token(3, 63);
  for (const char* name : {"train.shard", "validation.shard"}) {
    TokenShardWriter writer(dir / name, {64, false});
    for (int d = 0; d < (std::string(name) == "train.shard" ? 60 : 8); ++d) {
      std::vector<int32_t> ids(10 + d % 7);
      for (int32_t& id : ids) id = token(rng);
      writer.add_document(ids);
    }
    writer.finish();
  }
}

TrainConfig run_config(const ScratchDirectory& dir, const std::string& run) {
  TrainConfig c;
  c.data_dir = dir / "data";
  c.run_dir = dir / run;
  c.batch_size = 3;
  c.seq_len = 12;
  c.accumulation_steps = 2;
  c.max_steps = 12;
  c.schedule.kind = ScheduleKind::warmup_cosine;
  c.schedule.learning_rate = 3e-3;
  c.schedule.warmup_steps = 2;
  c.eval_every = 4;
  c.save_every = 4;
  c.seed = 9;
  c.threads = 2;
  return c;
}

struct Recorder {
  std::mutex mutex;
  std::vector<double> losses;
  std::vector<int64_t> skipped;
  std::string finish_reason;
  void operator()(const Event& e) {
    std::lock_guard lock(mutex);
    if (const auto* m = std::get_if<StepMetrics>(&e)) losses.push_back(m->loss);
    if (const auto* k = std::get_if<SkippedStep>(&e)) skipped.push_back(k->step);
    if (const auto* f = std::get_if<RunFinished>(&e)) finish_reason = f->reason;
  }
};

// The parameters of the run's latest checkpoint.
std::vector<double> parameters_of(const std::filesystem::path& run_dir, CpuBackend& backend) {
  const auto latest = latest_checkpoint(run_dir);
  EXPECT_TRUE(latest.has_value());
  auto model = load_model(*latest, backend);
  const Tensor p = model->parameters().buffer();
  return {p.data<float>(), p.data<float>() + p.numel()};
}

TEST(Trainer, SameSeedSameCurveAndStopResumeEqualsUninterrupted) {
  ScratchDirectory dir;
  write_shards(dir / "data");
  CpuBackend backend(2);

  Recorder full;
  std::vector<double> full_parameters;
  {
    EventStream events;
    events.subscribe(std::ref(full));
    Trainer trainer(run_config(dir, "full"), small_model(), backend, events);
    EXPECT_EQ(trainer.run().reason, "finished");
    events.close();
    full_parameters = parameters_of(dir / "full", backend);
  }
  ASSERT_EQ(full.losses.size(), 12u);
  EXPECT_LT(full.losses.back(), full.losses.front());

  Recorder again;
  {
    EventStream events;
    events.subscribe(std::ref(again));
    Trainer trainer(run_config(dir, "again"), small_model(), backend, events);
    trainer.run();
    events.close();
  }
  EXPECT_EQ(again.losses, full.losses);  // bit for bit

  // Stopped from another thread (here: the event consumer) after step 5, then resumed to the end.
  Recorder first, second;
  {
    EventStream events;
    std::unique_ptr<Trainer> trainer = std::make_unique<Trainer>(run_config(dir, "split"), small_model(), backend, events);
    Trainer* raw = trainer.get();
    events.subscribe(std::ref(first));
    events.subscribe([raw](const Event& e) {
      if (const auto* m = std::get_if<StepMetrics>(&e); m && m->step == 5) raw->request_stop();
    });
    const TrainOutcome outcome = trainer->run();
    events.close();
    EXPECT_EQ(outcome.reason, "stopped");
    EXPECT_GE(outcome.steps, 5);
    EXPECT_LT(outcome.steps, 12);
  }
  {
    EventStream events;
    events.subscribe(std::ref(second));
    auto trainer = Trainer::resume(dir / "split", backend, events);
    EXPECT_EQ(trainer->run().reason, "finished");
    events.close();
    EXPECT_EQ(parameters_of(dir / "split", backend), full_parameters);
  }
  std::vector<double> joined(first.losses);
  joined.insert(joined.end(), second.losses.begin(), second.losses.end());
  ASSERT_EQ(joined.size(), full.losses.size());
  for (size_t i = 0; i < joined.size(); ++i)
    EXPECT_EQ(joined[i], full.losses[i]) << "step " << i + 1 << " (the first run stopped after " << first.losses.size()
                                         << ")";
}

TEST(Trainer, PauseWritesACheckpointAndResumeContinuesTheSameRun) {
  ScratchDirectory dir;
  write_shards(dir / "data");
  CpuBackend backend(2);
  Recorder full, paused;
  {
    EventStream events;
    events.subscribe(std::ref(full));
    Trainer trainer(run_config(dir, "full"), small_model(), backend, events);
    trainer.run();
    events.close();
  }
  EventStream events;
  events.subscribe(std::ref(paused));
  Trainer trainer(run_config(dir, "paused"), small_model(), backend, events);
  std::atomic<bool> saw_pause{false};
  // Requested on the training thread itself during step 3 (as any thread may), so it always lands mid-run.
  trainer.set_gradient_hook([&](int64_t step, Tensor&) {
    if (step == 3) trainer.request_pause();
  });
  events.subscribe([&](const Event& e) {
    if (const auto* w = std::get_if<Warning>(&e); w && w->message == "paused") saw_pause = true;
  });
  std::thread runner([&] { trainer.run(); });
  while (!saw_pause) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(trainer.paused());
  EXPECT_TRUE(latest_checkpoint(dir / "paused").has_value());  // written on pausing
  trainer.request_resume();
  runner.join();
  events.close();
  EXPECT_EQ(paused.losses, full.losses);
}

TEST(Trainer, NanGradientsAreSkippedAndARunOfThemStopsTheRun) {
  ScratchDirectory dir;
  write_shards(dir / "data");
  CpuBackend backend(2);
  Recorder recorder;
  EventStream events;
  events.subscribe(std::ref(recorder));
  TrainConfig config = run_config(dir, "nan");
  config.max_consecutive_skips = 3;
  Trainer trainer(config, small_model(), backend, events);
  // Step 2 once, then steps 6.. for ever.
  trainer.set_gradient_hook([](int64_t step, Tensor& gradients) {
    if (step == 2 || step >= 6) gradients.data<float>()[7] = std::nanf("");
  });
  const TrainOutcome outcome = trainer.run();
  events.close();
  EXPECT_NE(outcome.reason.find("consecutive"), std::string::npos) << outcome.reason;
  ASSERT_GE(recorder.skipped.size(), 3u);
  EXPECT_EQ(recorder.skipped.front(), 2);
  for (double loss : recorder.losses) EXPECT_TRUE(std::isfinite(loss));
  // The last checkpoint is complete and loadable, and its weights are finite.
  const auto latest = latest_checkpoint(dir / "nan");
  ASSERT_TRUE(latest.has_value());
  auto model = load_model(*latest, backend);
  for (float p : model->parameters().buffer().span<float>()) ASSERT_TRUE(std::isfinite(p));
}

}  // namespace
}  // namespace minimind
