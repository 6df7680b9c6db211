// The lab's controller drives a real tiny training run on its thread: it starts, pauses (steps stop coming),
// resumes, and stops with a checkpoint; events arrive as signals on the GUI thread.
#include "lab/training_controller.h"

#include <gtest/gtest.h>

#include <QCoreApplication>
#include <QThread>
#include <chrono>
#include <random>

#include "config/presets.h"
#include "support/event_loop.h"
#include "support/random_shards.h"
#include "support/scratch_directory.h"
#include "train/checkpoint.h"

namespace minimind {
namespace {

TEST(TrainingController, StartsPausesResumesAndStopsARealRun) {
  ScratchDirectory dir;
  std::filesystem::create_directories(dir / "data");
  std::mt19937_64 rng(1);
  for (const char* name : {"train.shard", "validation.shard"}) write_random_shard(dir / "data" / name, 64, 200, 12, 1, rng);
  ModelConfig model;
  model.hidden_size = 16;
  model.num_hidden_layers = 1;
  model.num_attention_heads = 2;
  model.num_key_value_heads = 1;
  model.vocab_size = 64;
  model.intermediate_size = 32;
  model.max_position_embeddings = 32;
  TrainConfig config;
  config.data_dir = dir / "data";
  config.run_dir = dir / "run";
  config.batch_size = 2;
  config.seq_len = 8;
  config.max_steps = 100000;  // only a stop ends it
  config.eval_every = 0;
  config.save_every = 0;
  config.threads = 1;

  TrainingController controller;
  std::vector<int64_t> steps;
  QString finished_reason;
  const Qt::HANDLE gui_thread = QThread::currentThreadId();
  bool on_gui_thread = true;
  QObject::connect(&controller, &TrainingController::step_metrics, [&](const StepMetrics& m) {
    steps.push_back(m.step);
    on_gui_thread = on_gui_thread && QThread::currentThreadId() == gui_thread;
  });
  QObject::connect(&controller, &TrainingController::finished, [&](const QString& reason) { finished_reason = reason; });

  ASSERT_TRUE(controller.start(config, model));
  EXPECT_FALSE(controller.start(config, model));  // one run at a time
  ASSERT_TRUE(wait_for([&] { return steps.size() >= 3; }));

  controller.pause();
  ASSERT_TRUE(wait_for([&] { return controller.paused() && latest_checkpoint(dir / "run").has_value(); }));
  wait_for([] { return false; }, std::chrono::milliseconds(100));  // let queued steps arrive
  const size_t while_paused = steps.size();
  wait_for([] { return false; }, std::chrono::milliseconds(300));
  EXPECT_EQ(steps.size(), while_paused) << "steps went on while paused";

  controller.resume();
  ASSERT_TRUE(wait_for([&] { return steps.size() >= while_paused + 3; }));

  const auto stop_requested = std::chrono::steady_clock::now();
  controller.stop();
  ASSERT_TRUE(wait_for([&] { return !finished_reason.isEmpty(); }));
  EXPECT_LT(std::chrono::steady_clock::now() - stop_requested, std::chrono::seconds(5));
  EXPECT_EQ(finished_reason, "stopped");
  EXPECT_FALSE(controller.running());
  EXPECT_TRUE(on_gui_thread);
  for (size_t i = 1; i < steps.size(); ++i) EXPECT_EQ(steps[i], steps[i - 1] + 1);
  const auto latest = latest_checkpoint(dir / "run");
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(checkpoint_step(*latest), steps.back());
}

TEST(TrainingController, RefusedSetupIsReportedNotThrown) {
  TrainingController controller;
  QString message;
  QObject::connect(&controller, &TrainingController::failed, [&](const QString& m) { message = m; });
  TrainConfig config;
  config.data_dir = "/nonexistent-shards";
  config.run_dir = "/tmp/never-written";
  config.batch_size = 2;  // small enough for any machine's memory: the missing data is what is refused
  config.seq_len = 16;
  EXPECT_FALSE(controller.start(config, ModelConfig{}));
  EXPECT_TRUE(message.contains("nonexistent-shards")) << message.toStdString();
}

TEST(TrainingController, ARunThatDoesNotFitInMemoryIsRefusedBeforeAllocating) {
  // The example, 3.8 TiB: refused with the memory verdict before the model or the data is touched.
  ScratchDirectory dir;
  TrainingController controller;
  QString message;
  QObject::connect(&controller, &TrainingController::failed, [&](const QString& m) { message = m; });
  TrainConfig config;
  config.data_dir = dir / "no-data";
  config.run_dir = dir / "run";
  config.batch_size = 64;
  config.seq_len = 4096;
  EXPECT_FALSE(controller.start(config, preset("large")));
  EXPECT_TRUE(message.startsWith("training at batch size 64 x sequence length 4096 needs 3.8 TiB"))
      << message.toStdString();
  EXPECT_TRUE(message.contains("is available")) << message.toStdString();
  EXPECT_FALSE(controller.running());
  EXPECT_FALSE(std::filesystem::exists(dir / "run"));
}

}  // namespace
}  // namespace minimind
