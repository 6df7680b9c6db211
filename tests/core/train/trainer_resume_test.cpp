// Resuming a run whose newest checkpoint is damaged. Reference: the uninterrupted run of the same seed: the
// run resumed from the newest intact checkpoint ends with the same weights bit for bit (resuming is exact),
// and its events and metrics.jsonl say which checkpoint was skipped and why. With no intact checkpoint the
// resume is refused with each one's problem.
#include <gtest/gtest.h>

#include <mutex>
#include <random>

#include "backend/cpu/cpu_backend.h"
#include "core/train/checkpoint_test_support.h"
#include "model/model_dir.h"
#include "support/file_contents.h"
#include "support/random_shards.h"
#include "support/scratch_directory.h"
#include "train/checkpoint.h"
#include "train/run_logs.h"
#include "train/trainer.h"

namespace minimind {
namespace {

namespace fs = std::filesystem;

ModelConfig small_model() {
  ModelConfig c;
  c.hidden_size = 16;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.vocab_size = 64;
  c.intermediate_size = 32;
  c.max_position_embeddings = 64;
  return c;
}

// 12 steps, a checkpoint every 4: step-000004, step-000008, step-000012.
TrainConfig run_config(const fs::path& data_dir, const fs::path& run_dir) {
  TrainConfig c;
  c.data_dir = data_dir;
  c.run_dir = run_dir;
  c.batch_size = 3;
  c.seq_len = 12;
  c.max_steps = 12;
  c.schedule.kind = ScheduleKind::warmup_cosine;
  c.schedule.learning_rate = 3e-3;
  c.schedule.warmup_steps = 2;
  c.eval_every = 0;
  c.save_every = 4;
  c.keep_last = 3;
  c.seed = 9;
  c.threads = 2;
  return c;
}

struct WarningRecorder {
  std::mutex mutex;
  std::vector<std::string> messages;
  void operator()(const Event& event) {
    std::lock_guard lock(mutex);
    if (const auto* w = std::get_if<Warning>(&event)) messages.push_back(w->message);
  }
};

std::vector<float> parameters_of(const fs::path& checkpoint, CpuBackend& backend) {
  const LoadedCheckpoint loaded = read_checkpoint(checkpoint, backend);
  const auto values = loaded.model->parameters().buffer().span<float>();
  return {values.begin(), values.end()};
}

class TrainerResume : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937_64 rng(5);
    fs::create_directories(dir_ / "data");
    write_random_shard(dir_ / "data" / "train.shard", 64, 60, 10, 7, rng);
    write_random_shard(dir_ / "data" / "validation.shard", 64, 8, 10, 7, rng);
  }
  // Runs the whole schedule into `run`.
  void train(const std::string& run) {
    EventStream events;
    Trainer trainer(run_config(dir_ / "data", dir_ / run), small_model(), backend_, events);
    ASSERT_EQ(trainer.run().reason, "finished");
  }

  ScratchDirectory dir_;
  CpuBackend backend_{2};
};

TEST_F(TrainerResume, FallsBackPastADamagedNewestCheckpointAndSaysSo) {
  train("full");
  const std::vector<float> expected = parameters_of(dir_ / "full" / "checkpoints" / "step-000012", backend_);

  // The same run, stopped by a crash after its last checkpoint, whose weights were then damaged on the disk.
  train("damaged");
  const fs::path checkpoints = dir_ / "damaged" / "checkpoints";
  const fs::path newest = checkpoints / "step-000012";
  testing::flip_byte(newest / "model.safetensors", fs::file_size(newest / "model.safetensors") - 100);
  fs::remove(dir_ / "damaged" / "metrics.jsonl");

  WarningRecorder warnings;
  {
    EventStream events;
    events.subscribe(std::ref(warnings));
    auto trainer = Trainer::resume(dir_ / "damaged", backend_, events);
    EXPECT_EQ(trainer->step(), 8);
    RunLogs logs(dir_ / "damaged", trainer->step(), events);
    EXPECT_EQ(trainer->run().reason, "finished");
    events.close();
  }
  ASSERT_GE(warnings.messages.size(), 2u);
  const std::string& skipped = warnings.messages[0];
  EXPECT_EQ(skipped.rfind("skipped checkpoint " + newest.string() + ": checkpoint file " +
                              (newest / "model.safetensors").string() + " is corrupt",
                          0),
            0u)
      << skipped;
  EXPECT_NE(skipped.find("(set aside as step-000012.damaged)"), std::string::npos) << skipped;
  EXPECT_EQ(warnings.messages[1], "resumed from " + (checkpoints / "step-000008").string());
  const std::string metrics = read_file(dir_ / "damaged" / "metrics.jsonl");
  EXPECT_NE(metrics.find("\"message\":\"skipped checkpoint " + newest.string()), std::string::npos)
      << metrics;

  // Steps 9..12 again, exactly as the first time; the damaged directory stays for inspection.
  EXPECT_EQ(parameters_of(newest, backend_), expected);
  EXPECT_TRUE(fs::exists(checkpoints / "step-000012.damaged" / "model.safetensors"));
  EXPECT_EQ(list_checkpoints(dir_ / "damaged"),
            (std::vector<fs::path>{checkpoints / "step-000004", checkpoints / "step-000008", newest}));
}

// A run moves between devices: its checkpoints hold the f32 master weights. A checkpoint of a run recorded
// as trained on a GPU in bf16 resumes on the CPU in f32, says so, and (as this one was in truth computed in
// f32) ends exactly as the run that never moved.
TEST_F(TrainerResume, AGpuRunInBf16ResumesOnTheCpuInF32) {
  train("full");
  const std::vector<float> expected = parameters_of(dir_ / "full" / "checkpoints" / "step-000012", backend_);
  LoadedCheckpoint loaded = read_checkpoint(dir_ / "full" / "checkpoints" / "step-000004", backend_);
  loaded.state.run_config["device"] = "cuda";
  loaded.state.run_config["precision"] = "bf16";
  write_checkpoint(dir_ / "moved", *loaded.model, loaded.state);

  WarningRecorder warnings;
  {
    EventStream events;
    events.subscribe(std::ref(warnings));
    auto trainer = Trainer::resume(dir_ / "moved", backend_, events);
    EXPECT_EQ(trainer->step(), 4);
    EXPECT_EQ(trainer->run().reason, "finished");
    events.close();
  }
  const auto said = [&](const std::string& text) {
    for (const std::string& message : warnings.messages)
      if (message.find(text) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(said("the run was trained on cuda and continues on cpu"))
      << ::testing::PrintToString(warnings.messages);
  EXPECT_TRUE(said("the run computed in bf16, which cpu cannot: it continues in f32"))
      << ::testing::PrintToString(warnings.messages);
  EXPECT_EQ(parameters_of(dir_ / "moved" / "checkpoints" / "step-000012", backend_), expected);
}

TEST_F(TrainerResume, NoIntactCheckpointIsRefusedWithEachProblem) {
  train("run");
  const fs::path checkpoints = dir_ / "run" / "checkpoints";
  for (const char* step : {"step-000004", "step-000008", "step-000012"})
    fs::resize_file(checkpoints / step / "trainer_state.safetensors", 100);
  EventStream events;
  try {
    Trainer::resume(dir_ / "run", backend_, events);
    FAIL() << "resumed";
  } catch (const CheckpointError& e) {
    const std::string message = e.what();
    for (const char* step : {"step-000004", "step-000008", "step-000012"})
      EXPECT_NE(message.find(std::string("\n  ") + step + ": checkpoint file " +
                             (checkpoints / step / "trainer_state.safetensors").string()),
                std::string::npos)
          << message;
    EXPECT_NE(message.find("What you can do"), std::string::npos) << message;
  }
  EXPECT_EQ(list_checkpoints(dir_ / "run").size(), 3u);  // none set aside when the resume is refused
}

}  // namespace
}  // namespace minimind
