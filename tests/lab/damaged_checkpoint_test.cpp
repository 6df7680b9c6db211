// Damaged checkpoints in the lab: the Generate view's controller refuses one whose weights changed since it
// was written, naming the file, and "Resume last run" continues from the newest intact checkpoint with a
// warning naming the one it skipped. Reference: the COMPLETE marker's CRC-32C; the step the run resumes at.
#include <gtest/gtest.h>

#include <QCoreApplication>
#include <random>

#include "backend/cpu/cpu_backend.h"
#include "core/train/checkpoint_test_support.h"
#include "lab/generation_controller.h"
#include "lab/training_controller.h"
#include "support/event_loop.h"
#include "support/one_layer_model.h"
#include "support/random_shards.h"
#include "support/scratch_directory.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace minimind {
namespace {

namespace fs = std::filesystem;

void damage_weights(const fs::path& checkpoint) {
  const fs::path weights = checkpoint / "model.safetensors";
  testing::flip_byte(weights, fs::file_size(weights) - 100);
}

TEST(DamagedCheckpoint, GenerationControllerRefusesItNamingTheFile) {
  ScratchDirectory dir;
  CpuBackend backend(1);
  MiniMindModel model(testing::checkpoint_test_config(), backend);
  const Tensor base = testing::initial_parameters(model, 4);
  const fs::path checkpoint = write_checkpoint(dir / "run", model, testing::state_for_step(model, base, 2));
  damage_weights(checkpoint);

  GenerationController controller(nullptr, "cpu", 1);
  QStringList failures;
  QObject::connect(&controller, &GenerationController::failed, [&](const QString& m) { failures << m; });
  ASSERT_TRUE(controller.load_model_dir(QString::fromStdString(checkpoint.string())));
  ASSERT_TRUE(wait_for([&] { return !failures.isEmpty(); }));
  const std::string message = failures.back().toStdString();
  EXPECT_NE(message.find("checkpoint file " + (checkpoint / "model.safetensors").string() + " is corrupt"),
            std::string::npos)
      << message;
  EXPECT_FALSE(controller.has_model());
}

TEST(DamagedCheckpoint, ResumeLastRunFallsBackAndWarns) {
  ScratchDirectory dir;
  fs::create_directories(dir / "data");
  std::mt19937_64 rng(2);
  for (const char* name : {"train.shard", "validation.shard"})
    write_random_shard(dir / "data" / name, 64, 60, 12, 1, rng);
  const ModelConfig model = one_layer_model();
  TrainConfig config;
  config.data_dir = dir / "data";
  config.run_dir = dir / "run";
  config.batch_size = 2;
  config.seq_len = 8;
  config.max_steps = 4;
  config.eval_every = 0;
  config.save_every = 2;  // step-000002, step-000004
  config.threads = 1;
  {
    CpuBackend backend(1);
    EventStream events;
    Trainer trainer(config, model, backend, events);
    ASSERT_EQ(trainer.run().reason, "finished");
  }
  const fs::path newest = config.run_dir / "checkpoints" / "step-000004";
  damage_weights(newest);

  TrainingController controller;
  QStringList warnings;
  QString finished;
  QObject::connect(&controller, &TrainingController::warning, [&](const QString& w) { warnings << w; });
  QObject::connect(&controller, &TrainingController::finished, [&](const QString& r) { finished = r; });
  ASSERT_TRUE(controller.resume_run(config.run_dir, "cpu", 1));
  ASSERT_TRUE(wait_for([&] { return !finished.isEmpty(); }));
  EXPECT_EQ(finished, "finished");
  ASSERT_GE(warnings.size(), 2);
  EXPECT_TRUE(warnings[0].startsWith(
      QString::fromStdString("skipped checkpoint " + newest.string() + ": checkpoint file " +
                             (newest / "model.safetensors").string() + " is corrupt")))
      << warnings[0].toStdString();
  EXPECT_EQ(warnings[1].toStdString(),
            "resumed from " + (config.run_dir / "checkpoints" / "step-000002").string());
  EXPECT_NO_THROW(verify_checkpoint(newest));  // written again by the resumed run
}

}  // namespace
}  // namespace minimind
