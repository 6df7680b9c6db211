// Checkpoints through the minimind CLI, as a user meets them: every command that loads a model refuses a
// checkpoint whose weights changed since it was written (exit code 1, the file named), a model directory
// without a COMPLETE marker still loads, and resume falls back past a damaged newest checkpoint, saying so on
// stderr, or lists every problem when none is intact. Reference: the COMPLETE marker's CRC-32C.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/train/checkpoint_test_support.h"
#include "support/cli_run.h"
#include "support/scratch_directory.h"

namespace minimind {
namespace {

namespace fs = std::filesystem;

class CheckpointCommands : public ::testing::Test {
 protected:
  // A six-step run with checkpoints at steps 3 and 6.
  void SetUp() override {
    {
      std::ofstream corpus(dir_ / "corpus.jsonl");
      for (int i = 0; i < 200; ++i)
        corpus << "{\"text\": \"sentence " << i << " about the river and the mill\"}\n";
    }
    CliRun run = run_cli("prepare --input " + (dir_ / "corpus.jsonl").string() + " --out " + data_.string() +
                         " --val_fraction 0.1");
    ASSERT_EQ(run.exit_code, 0) << run.output;
    run = run_cli("train --data_dir " + data_.string() + " --out_dir " + run_dir_.string() +
                  " --preset tiny --hidden_size 32 --num_hidden_layers 2 --num_attention_heads 4"
                  " --num_key_value_heads 2 --threads 1 --batch_size 4 --max_seq_len 32 --max_steps 6"
                  " --save_every 3 --eval_every 0");
    ASSERT_EQ(run.exit_code, 0) << run.output;
  }
  fs::path checkpoint(int step) const {
    return run_dir_ / "checkpoints" / ("step-00000" + std::to_string(step));
  }
  // Flips a byte in the tensor data of a checkpoint's weights.
  void damage_weights(int step) const {
    const fs::path weights = checkpoint(step) / "model.safetensors";
    testing::flip_byte(weights, fs::file_size(weights) - 100);
  }

  ScratchDirectory scratch_;
  const fs::path dir_ = scratch_.path();
  const fs::path data_ = dir_ / "data";
  const fs::path run_dir_ = dir_ / "run";
};

TEST_F(CheckpointCommands, EveryModelLoadingCommandRefusesADamagedCheckpoint) {
  damage_weights(6);
  const std::string model = checkpoint(6).string();
  const std::string commands[] = {
      "generate --model " + model + " --prompt hi --max_new_tokens 2",
      "chat --model " + model + " --message hi --max_new_tokens 2",
      "eval --model " + model + " --data " + data_.string() + " --max_seq_len 32",
      "forward --model " + model + " --ids 1,2,3 --out " + (dir_ / "forward.safetensors").string(),
      "train --from " + model + " --data_dir " + data_.string() + " --out_dir " + (dir_ / "from").string() +
          " --batch_size 4 --max_seq_len 32 --max_steps 1 --threads 1",
  };
  for (const std::string& command : commands) {
    const CliRun run = run_cli(command);
    EXPECT_EQ(run.exit_code, 1) << command << "\n" << run.output;
    EXPECT_NE(run.output.find("checkpoint file " + model + "/model.safetensors is corrupt"),
              std::string::npos)
        << command << "\n"
        << run.output;
  }
  EXPECT_FALSE(fs::exists(dir_ / "forward.safetensors"));

  // Without its marker, as an exported model, the intact step 3 loads as before.
  const fs::path exported = dir_ / "exported";
  fs::create_directories(exported);
  for (const char* file : {"config.json", "model.safetensors"})
    fs::copy_file(checkpoint(3) / file, exported / file);
  const CliRun run = run_cli("generate --model " + exported.string() + " --prompt hi --max_new_tokens 2");
  EXPECT_EQ(run.exit_code, 0) << run.output;
}

TEST_F(CheckpointCommands, ResumeFallsBackAndSaysWhichCheckpointItSkipped) {
  damage_weights(6);
  CliRun run = run_cli("resume --out_dir " + run_dir_.string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("skipped checkpoint " + checkpoint(6).string() + ": checkpoint file " +
                            checkpoint(6).string() + "/model.safetensors is corrupt"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("resumed from " + checkpoint(3).string()), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("finished after 6 steps"), std::string::npos) << run.output;
  EXPECT_TRUE(fs::exists(checkpoint(6) / "COMPLETE"));  // written again
  EXPECT_TRUE(fs::exists(run_dir_ / "checkpoints" / "step-000006.damaged"));

  // Nothing intact left: the error lists each checkpoint with its problem and what can be done.
  damage_weights(3);
  damage_weights(6);
  run = run_cli("train --resume --out_dir " + run_dir_.string());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  for (int step : {3, 6})
    EXPECT_NE(run.output.find("step-00000" + std::to_string(step) + ": checkpoint file " +
                              checkpoint(step).string() + "/model.safetensors is corrupt"),
              std::string::npos)
        << run.output;
  EXPECT_NE(run.output.find("What you can do"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace minimind
