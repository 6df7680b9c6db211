// Errors during a run end it cleanly: the trainer publishes RunFailed (what failed, the phase and step, the
// last complete checkpoint) and RunFinished before the error propagates, an allocation failure
// becomes an OutOfMemoryError naming its phase, and a log that cannot be written (metrics.jsonl on /dev/full,
// which refuses every write with ENOSPC) is reported and lets the run go on only while checkpoints can still
// be written. Reference: the events received, the exceptions caught, and the checkpoints verified on disk.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include "backend/cpu/cpu_backend.h"
#include "support/file_contents.h"
#include "support/one_layer_model.h"
#include "support/random_shards.h"
#include "support/scratch_directory.h"
#include "train/checkpoint.h"
#include "train/out_of_memory_error.h"
#include "train/run_logs.h"
#include "train/trainer.h"

namespace minimind {
namespace {

TrainConfig run_config(const ScratchDirectory& dir) {
  std::filesystem::create_directories(dir / "data");
  std::mt19937_64 rng(3);
  for (const char* name : {"train.shard", "validation.shard"})
    write_random_shard(dir / "data" / name, 64, 80, 10, 5, rng);
  TrainConfig c;
  c.data_dir = dir / "data";
  c.run_dir = dir / "run";
  c.batch_size = 2;
  c.seq_len = 8;
  c.max_steps = 8;
  c.eval_every = 0;
  c.save_every = 2;
  c.threads = 1;
  return c;
}

struct Recorder {
  std::mutex mutex;
  std::vector<Warning> warnings;
  std::vector<RunFailed> run_failures;
  std::vector<int64_t> checkpoints;
  std::string finish_reason;
  void operator()(const Event& e) {
    std::lock_guard lock(mutex);
    if (const auto* w = std::get_if<Warning>(&e)) warnings.push_back(*w);
    if (const auto* f = std::get_if<RunFailed>(&e)) run_failures.push_back(*f);
    if (const auto* c = std::get_if<CheckpointWritten>(&e)) checkpoints.push_back(c->step);
    if (const auto* f = std::get_if<RunFinished>(&e)) finish_reason = f->reason;
  }
  std::vector<Warning> failures() {
    std::vector<Warning> found;
    for (const Warning& w : warnings)
      if (w.failure) found.push_back(w);
    return found;
  }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(TrainerFailure, AnErrorEndsTheRunWithAnEventNamingItsLastCheckpoint) {
  ScratchDirectory dir;
  const TrainConfig config = run_config(dir);
  CpuBackend backend(1);
  EventStream events;
  Recorder recorder;
  events.subscribe(std::ref(recorder));
  Trainer trainer(config, one_layer_model(), backend, events);
  // Steps done = 5: the sixth step fails (as a disk or device error would), after the checkpoint of step 4.
  trainer.set_gradient_hook([](int64_t step, Tensor&) {
    if (step == 5) throw std::runtime_error("injected device error");
  });
  try {
    trainer.run();
    FAIL() << "the error did not propagate";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "injected device error");  // the error itself, unchanged
  }
  events.close();
  const std::vector<RunFailed>& failures = recorder.run_failures;
  ASSERT_EQ(failures.size(), 1u);
  const std::string last = (config.run_dir / "checkpoints" / "step-000004").string();
  EXPECT_EQ(failures[0].step, 6);
  EXPECT_EQ(failures[0].error, "injected device error");
  EXPECT_EQ(failures[0].last_checkpoint, last);
  EXPECT_TRUE(contains(failures[0].message,
                       "training failed at step 6 while inspecting the gradients: injected "
                       "device error"))
      << failures[0].message;
  EXPECT_TRUE(contains(failures[0].message, "The last complete checkpoint is " + last))
      << failures[0].message;
  EXPECT_TRUE(recorder.failures().empty());  // no warning: the run did not go on
  EXPECT_EQ(recorder.finish_reason, "failed: injected device error");
  EXPECT_EQ(latest_checkpoint(config.run_dir), last);
  EXPECT_NO_THROW(verify_checkpoint(last));
}

TEST(TrainerFailure, AnAllocationFailureIsOutOfMemoryNamingItsPhaseAndStep) {
  ScratchDirectory dir;
  const TrainConfig config = run_config(dir);
  CpuBackend backend(1);
  EventStream events;
  Recorder recorder;
  events.subscribe(std::ref(recorder));
  Trainer trainer(config, one_layer_model(), backend, events);
  trainer.set_gradient_hook([](int64_t step, Tensor&) {
    if (step == 1) throw std::bad_alloc();
  });
  try {
    trainer.run();
    FAIL() << "the allocation failure did not propagate";
  } catch (const OutOfMemoryError& e) {
    EXPECT_STREQ(e.what(), "out of memory while inspecting the gradients at step 2");
    EXPECT_STREQ(e.phase(), "inspecting the gradients");
    EXPECT_EQ(e.step(), 2);
  }
  events.close();
  const std::vector<RunFailed>& failures = recorder.run_failures;
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_TRUE(contains(failures[0].message, "out of memory while inspecting the gradients at step 2"))
      << failures[0].message;
  EXPECT_TRUE(contains(failures[0].message, "No checkpoint of this run was written")) << failures[0].message;
  EXPECT_EQ(failures[0].last_checkpoint, "");
}

// A run whose metrics.jsonl refuses every write (from its first line, step 1's metrics), logged through
// RunLogs as the CLI and the lab do. The gradient hook of step 3 waits until the failure has been reported,
// so the run sees it at step 1, 2 or 3 (the log's thread runs at its own pace), well before its end.
struct RunWithAFullLog {
  explicit RunWithAFullLog(const ScratchDirectory& dir) : config(run_config(dir)) {
    config.save_every = 0;  // the only checkpoints: the check after the failure, and the final one
    config.max_steps = 6;
    std::filesystem::create_directories(config.run_dir);
    std::filesystem::create_symlink("/dev/full", config.run_dir / "metrics.jsonl");
    events.subscribe(std::ref(recorder));
    trainer = std::make_unique<Trainer>(config, one_layer_model(), backend, events);
    logs =
        std::make_unique<RunLogs>(config.run_dir, std::nullopt, events, [this](const std::string& message) {
          trainer->report_log_failure(message);
          reported = true;
        });
    trainer->set_gradient_hook([this](int64_t step, Tensor&) {
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (step == 2 && !reported && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  }
  ~RunWithAFullLog() { events.close(); }  // before the writers and the trainer its callbacks use go

  TrainConfig config;
  CpuBackend backend{1};
  EventStream events;
  Recorder recorder;
  std::atomic<bool> reported{false};
  std::unique_ptr<Trainer> trainer;
  std::unique_ptr<RunLogs> logs;
};

TEST(TrainerFailure, ALogThatCannotBeWrittenIsReportedAndTheRunGoesOnWhileCheckpointsWork) {
  ScratchDirectory dir;
  RunWithAFullLog run(dir);
  const TrainOutcome outcome = run.trainer->run();
  run.events.close();
  EXPECT_EQ(outcome.reason, "finished");
  EXPECT_EQ(outcome.steps, 6);
  ASSERT_TRUE(run.reported);
  const std::vector<Warning> failures = run.recorder.failures();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_GE(failures[0].step, 1);
  EXPECT_LE(failures[0].step, 3);
  EXPECT_TRUE(contains(failures[0].message, "metrics.jsonl")) << failures[0].message;
  EXPECT_TRUE(contains(failures[0].message, "No space left on device")) << failures[0].message;
  EXPECT_TRUE(contains(failures[0].message, "training goes on")) << failures[0].message;
  // The check is a real checkpoint, at the step where the failure was seen; then the final one.
  EXPECT_EQ(run.recorder.checkpoints, (std::vector<int64_t>{failures[0].step, 6}));
  EXPECT_NO_THROW(
      verify_checkpoint(dir / "run" / "checkpoints" / checkpoint_directory_name(failures[0].step)));
  EXPECT_GT(run.logs->failed_writes(), 1);
  ASSERT_EQ(run.logs->failures().size(), 1u);  // reported once, not for every event it missed
  // The other logs are whole: the CSV has its header, every step and the final validation.
  const std::string csv = read_file(dir / "run" / "metrics.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 6 + 1);
}

TEST(TrainerFailure, ALogThatCannotBeWrittenEndsTheRunWhenCheckpointsFailToo) {
  ScratchDirectory dir;
  RunWithAFullLog run(dir);
  write_file(dir / "run" / "checkpoints", "a file where the checkpoints folder should be");
  EXPECT_THROW(run.trainer->run(), std::exception);
  run.events.close();
  EXPECT_TRUE(run.recorder.failures().empty());  // no "training goes on"
  const std::vector<RunFailed>& failures = run.recorder.run_failures;
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_TRUE(contains(failures[0].message,
                       "while writing a checkpoint to check that the run can still be saved "
                       "after a log failure"))
      << failures[0].message;
  EXPECT_TRUE(contains(failures[0].message, "No space left on device")) << failures[0].message;  // the log's
  EXPECT_TRUE(contains(failures[0].message, (dir / "run" / "checkpoints").string())) << failures[0].message;
  EXPECT_TRUE(run.recorder.checkpoints.empty());
  EXPECT_TRUE(contains(run.recorder.finish_reason, "failed: ")) << run.recorder.finish_reason;
}

}  // namespace
}  // namespace minimind
