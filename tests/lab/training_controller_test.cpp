// The lab's controller drives a real tiny training run on its thread: it starts, pauses (steps stop coming),
// resumes, and stops with a checkpoint; events arrive as signals on the GUI thread. An error during a run (a
// checkpoint that cannot be written, a full disk said in plain words) ends it through failed(); a log that
// cannot be written is a problem() while the run goes on.
#include "lab/training_controller.h"

#include <gtest/gtest.h>

#include <QCoreApplication>
#include <QThread>
#include <chrono>
#include <random>

#include "config/presets.h"
#include "model/memory_plan.h"
#include "support/event_loop.h"
#include "support/file_contents.h"
#include "support/one_layer_model.h"
#include "support/random_shards.h"
#include "support/scratch_directory.h"
#include "support/small_tmpfs.h"
#include "text/byte_size.h"
#include "train/checkpoint.h"
#include "train/train_config.h"

namespace minimind {
namespace {

// Random shards under `dir`/data and a run into `dir`/run.
TrainConfig tiny_run(const ScratchDirectory& dir) {
  std::filesystem::create_directories(dir / "data");
  std::mt19937_64 rng(1);
  for (const char* name : {"train.shard", "validation.shard"})
    write_random_shard(dir / "data" / name, 64, 200, 12, 1, rng);
  TrainConfig config;
  config.data_dir = dir / "data";
  config.run_dir = dir / "run";
  config.batch_size = 2;
  config.seq_len = 8;
  config.eval_every = 0;
  config.save_every = 0;
  config.threads = 1;
  return config;
}

TEST(TrainingController, StartsPausesResumesAndStopsARealRun) {
  ScratchDirectory dir;
  const ModelConfig model = one_layer_model();
  TrainConfig config = tiny_run(dir);
  config.max_steps = 100000;  // only a stop ends it

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
  const ModelConfig model;
  EXPECT_FALSE(controller.start(config, model));
  EXPECT_TRUE(message.contains("nonexistent-shards")) << message.toStdString();
}

// Reference: the signals received, and metrics.jsonl read back (whole lines, the run_failed event in it).
TEST(TrainingController, AnErrorDuringTheRunEndsItThroughFailed) {
  ScratchDirectory dir;
  TrainConfig config = tiny_run(dir);
  config.max_steps = 6;
  config.save_every = 2;
  // The first checkpoint cannot be written: where its folder should be, there is a file.
  std::filesystem::create_directories(config.run_dir);
  write_file(config.run_dir / "checkpoints", "not a folder");
  TrainingController controller;
  QString failure, finished_reason;
  QStringList warnings;
  QObject::connect(&controller, &TrainingController::failed, [&](const QString& m) { failure = m; });
  QObject::connect(&controller, &TrainingController::finished,
                   [&](const QString& r) { finished_reason = r; });
  QObject::connect(&controller, &TrainingController::warning, [&](const QString& m) { warnings << m; });
  ASSERT_TRUE(controller.start(config, one_layer_model()));  // the setup itself is fine
  ASSERT_TRUE(wait_for([&] { return !failure.isEmpty() || !finished_reason.isEmpty(); }));
  EXPECT_TRUE(finished_reason.isEmpty()) << finished_reason.toStdString();
  EXPECT_TRUE(failure.contains(QString::fromStdString((config.run_dir / "checkpoints").string())))
      << failure.toStdString();
  EXPECT_FALSE(controller.running());
  // The failure is in the log pane's stream and in metrics.jsonl, whose every line is whole.
  ASSERT_FALSE(warnings.isEmpty());
  EXPECT_TRUE(warnings.back().startsWith("training failed at step 2 while writing a checkpoint"))
      << warnings.back().toStdString();
  const std::string metrics = read_file(config.run_dir / "metrics.jsonl");
  ASSERT_FALSE(metrics.empty());
  EXPECT_EQ(metrics.back(), '\n');
  EXPECT_NE(metrics.find("\"type\":\"run_failed\""), std::string::npos) << metrics;
}

TEST(TrainingController, AFullDiskIsSaidInPlainWords) {
  ScratchDirectory dir;
  TrainConfig config = tiny_run(dir);
  config.run_dir = dir / "disk" / "run";
  config.max_steps = 6;
  config.save_every = 2;
  ModelConfig model = one_layer_model();
  model.hidden_size = 64;  // about 40,000 parameters: the first checkpoint needs ~0.5 MB, the disk has 64 KiB
  model.intermediate_size = 128;
  const SmallTmpfs disk(dir / "disk", 64 << 10);
  if (!disk.mounted()) GTEST_SKIP() << disk.failure();
  TrainingController controller;
  QString failure, finished_reason;
  QObject::connect(&controller, &TrainingController::failed, [&](const QString& m) { failure = m; });
  QObject::connect(&controller, &TrainingController::finished,
                   [&](const QString& r) { finished_reason = r; });
  ASSERT_TRUE(controller.start(config, model)) << failure.toStdString();
  ASSERT_TRUE(wait_for([&] { return !failure.isEmpty() || !finished_reason.isEmpty(); }));
  EXPECT_TRUE(failure.startsWith("The disk is full: free some space")) << failure.toStdString();
  EXPECT_TRUE(failure.contains("No space left on device")) << failure.toStdString();
  EXPECT_TRUE(failure.contains(QString::fromStdString((config.run_dir / "checkpoints").string())))
      << failure.toStdString();
}

TEST(TrainingController, ALogThatCannotBeWrittenIsAProblemWhileTheRunGoesOn) {
  ScratchDirectory dir;
  TrainConfig config = tiny_run(dir);
  config.max_steps = 100000;  // goes on until stopped
  std::filesystem::create_directories(config.run_dir);
  std::filesystem::create_symlink("/dev/full", config.run_dir / "metrics.jsonl");  // every write: ENOSPC
  TrainingController controller;
  QString problem, finished_reason, failure;
  QObject::connect(&controller, &TrainingController::problem, [&](const QString& m) { problem = m; });
  QObject::connect(&controller, &TrainingController::finished,
                   [&](const QString& r) { finished_reason = r; });
  QObject::connect(&controller, &TrainingController::failed, [&](const QString& m) { failure = m; });
  ASSERT_TRUE(controller.start(config, one_layer_model()));
  ASSERT_TRUE(wait_for([&] { return !problem.isEmpty() || !failure.isEmpty(); })) << "no problem() reported";
  EXPECT_TRUE(controller.running());
  controller.stop();
  ASSERT_TRUE(wait_for([&] { return !finished_reason.isEmpty() || !failure.isEmpty(); }));
  EXPECT_EQ(finished_reason, "stopped") << failure.toStdString();
  EXPECT_TRUE(problem.contains("metrics.jsonl")) << problem.toStdString();
  EXPECT_TRUE(problem.contains("No space left on device")) << problem.toStdString();
  EXPECT_TRUE(problem.contains("training goes on")) << problem.toStdString();
}

TEST(TrainingController, ARunThatDoesNotFitInMemoryIsRefusedBeforeAllocating) {
  // The example, 787 GiB: refused with the memory verdict before the model or the data is touched.
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
  EXPECT_TRUE(message.startsWith("training at batch size 64 x sequence length 4096 needs 787.0 GiB"))
      << message.toStdString();
  EXPECT_TRUE(message.contains("is available")) << message.toStdString();
  EXPECT_FALSE(controller.running());
  EXPECT_FALSE(std::filesystem::exists(dir / "run"));
}

TEST(TrainingController, AGpuRunIsCheckedAgainstTheGpusFreeMemory) {
  // A fake GPU of the size that holds the GPU's own estimate at batch 5: refused before the backend is made
  // (no GPU is needed), naming the GPU and suggesting that batch.
  ScratchDirectory dir;
  const ModelConfig model = preset("small");
  const MemoryTarget gpu = MemoryTarget::for_device(Device::cuda);
  const int64_t free_bytes = MemoryMargin{}.with_margin(training_memory(model, 5, 512, gpu).total());
  TrainingController controller;
  std::vector<std::string> asked;
  controller.set_memory_source([&](const DeviceSpec& device) {
    asked.push_back(device.name());
    return AvailableMemory{free_bytes, "cuda:1 free memory, NVIDIA H100 80GB HBM3"};
  });
  QString message;
  QObject::connect(&controller, &TrainingController::failed, [&](const QString& m) { message = m; });
  TrainConfig config;
  config.data_dir = dir / "no-data";
  config.run_dir = dir / "run";
  config.device = "cuda:1";
  config.batch_size = 32;
  config.seq_len = 512;
  EXPECT_FALSE(controller.start(config, model));
  EXPECT_EQ(asked, std::vector<std::string>{"cuda:1"});
  const std::string needs = "training at batch size 32 x sequence length 512 needs " +
                            format_bytes(training_memory(model, 32, 512, gpu).total());
  EXPECT_TRUE(message.startsWith(QString::fromStdString(needs))) << message.toStdString();
  EXPECT_TRUE(message.contains("is available (cuda:1 free memory, NVIDIA H100 80GB HBM3)"))
      << message.toStdString();
  EXPECT_TRUE(message.contains("The largest batch size that fits at sequence length 512 is 5"))
      << message.toStdString();
  EXPECT_FALSE(std::filesystem::exists(dir / "run"));
}

TEST(TrainingController, AResumedRunThatNoLongerFitsIsRefusedBeforeAllocating) {
  // The sizes come from the run directory (config.json, train_config.json): refused with the memory verdict
  // before the checkpoint is read (there is none: without the check the refusal would be about that).
  ScratchDirectory dir;
  const std::filesystem::path run_dir = dir / "run";
  std::filesystem::create_directories(run_dir);
  save_config(preset("large"), run_dir / "config.json");
  TrainConfig config;
  config.batch_size = 64;
  config.seq_len = 4096;
  write_file(run_dir / "train_config.json", train_config_to_json(config).dump(2));
  TrainingController controller;
  QString message;
  QObject::connect(&controller, &TrainingController::failed, [&](const QString& m) { message = m; });
  EXPECT_FALSE(controller.resume_run(run_dir, "cpu", 1));
  EXPECT_TRUE(message.startsWith("training at batch size 64 x sequence length 4096 needs 787.0 GiB"))
      << message.toStdString();
  EXPECT_FALSE(controller.running());
}

}  // namespace
}  // namespace minimind
