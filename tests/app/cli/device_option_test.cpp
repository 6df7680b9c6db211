// --device on the commands that compute, as a user meets it: where no GPU can be used, cuda is refused with
// exit status 1 and a message saying why (before any data or model is touched), a malformed name is a
// usage error (exit status 2) naming the accepted forms, cpu works, a run records its device and resume uses
// it unless --device says otherwise. Reference: the accepted forms of backend/backend_factory.h.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "backend/cuda/cuda_device.h"
#include "support/cli_run.h"
#include "support/file_contents.h"
#include "support/scratch_directory.h"

namespace minimind {
namespace {

namespace fs = std::filesystem;

const std::string kTinyModel =
    " --preset tiny --hidden_size 32 --num_hidden_layers 2 --num_attention_heads 4 --num_key_value_heads 2";
// Why GPU `index` cannot be used here ("" when it can): the message a refused command must print.
std::string why_no_gpu(int index) { return cuda_unavailable_reason(index); }

class DeviceOption : public ::testing::Test {
 protected:
  ScratchDirectory scratch_;
  const fs::path dir_ = scratch_.path();
  const std::string model_ = (dir_ / "model").string();

  void init_model() {
    const CliRun run = run_cli("init" + kTinyModel + " --out " + model_);
    ASSERT_EQ(run.exit_code, 0) << run.output;
  }
};

TEST_F(DeviceOption, EveryComputingCommandDocumentsIt) {
  for (const std::string command :
       {"train", "resume", "eval", "bench", "forward", "generate", "chat", "demo"}) {
    const CliRun run = run_cli(command + " --help");
    EXPECT_EQ(run.exit_code, 0) << command;
    EXPECT_NE(run.output.find("--device NAME"), std::string::npos) << command << ":\n" << run.output;
    EXPECT_NE(run.output.find("cpu, cuda or cuda:N"), std::string::npos) << command << ":\n" << run.output;
  }
}

// A GPU that cannot be used here (no CUDA in the build, no GPU, no such GPU) is refused by every command
// with exit status 1 and the reason, before anything is written.
TEST_F(DeviceOption, AGpuThatCannotBeUsedIsRefusedWithExitStatusOne) {
  init_model();
  const std::string data = (dir_ / "data").string(), run_dir = (dir_ / "run").string();
  const std::string commands[] = {
      "bench" + kTinyModel + " --batch_size 1 --seq_len 8 --steps 1 --device cuda",
      "demo --steps 1 --device cuda",
      "forward --model " + model_ + " --ids 1,2,3 --out " + (dir_ / "out.safetensors").string() +
          " --device cuda",
      "generate --model " + model_ + " --prompt hi --max_new_tokens 2 --device cuda:999",
      "chat --model " + model_ + " --message hi --max_new_tokens 2 --device cuda",
      "eval --model " + model_ + " --data " + data + " --device cuda",
      "train --data_dir " + data + " --out_dir " + run_dir + kTinyModel + " --device cuda",
      "train --resume --out_dir " + run_dir + " --device cuda",
      "resume --out_dir " + run_dir + " --device cuda:0",
  };
  int refused = 0;
  for (const std::string& arguments : commands) {
    const int index = arguments.find("cuda:999") != std::string::npos ? 999 : 0;
    const std::string why = why_no_gpu(index);
    if (why.empty()) continue;  // this GPU works here: the GPU tests cover the command on it
    ++refused;
    const CliRun run = run_cli(arguments);
    EXPECT_EQ(run.exit_code, 1) << arguments << "\n" << run.output;
    EXPECT_NE(run.output.find(why), std::string::npos) << arguments << "\n" << run.output;
    EXPECT_EQ(run.output.find("terminate called"), std::string::npos) << arguments;
  }
  EXPECT_GT(refused, 0);  // cuda:999 at least
  if (why_no_gpu(0).empty()) return;
  EXPECT_FALSE(fs::exists(dir_ / "out.safetensors"));
  EXPECT_FALSE(fs::exists(dir_ / "run" / "checkpoints"));
}

TEST_F(DeviceOption, AMalformedNameIsAUsageError) {
  const std::pair<std::string, std::string> cases[] = {
      {"bench" + kTinyModel + " --device cuda:x", "--device 'cuda:x'"},
      {"demo --device gpu", "--device 'gpu'"},
      {"generate --model m --prompt hi --device cuda:-1", "--device 'cuda:-1'"},
      {"train --data_dir d --out_dir r" + kTinyModel + " --device gpu",
       "device: must be cpu, cuda or cuda:N"},
  };
  for (const auto& [arguments, fragment] : cases) {
    const CliRun run = run_cli(arguments);
    EXPECT_EQ(run.exit_code, 2) << arguments << "\n" << run.output;
    EXPECT_NE(run.output.find(fragment), std::string::npos) << arguments << "\n" << run.output;
    EXPECT_NE(run.output.find("cpu, cuda or cuda:N"), std::string::npos) << arguments << "\n" << run.output;
  }
}

TEST_F(DeviceOption, CpuComputes) {
  init_model();
  CliRun run = run_cli("forward --model " + model_ + " --ids 1,2,3 --threads 1 --device cpu --out " +
                       (dir_ / "out.safetensors").string());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(fs::exists(dir_ / "out.safetensors"));
  run = run_cli("generate --model " + model_ +
                " --prompt hi --greedy --max_new_tokens 2 --threads 1 --device cpu");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  run =
      run_cli("bench" + kTinyModel + " --batch_size 1 --seq_len 8 --steps 1 --threads 1 --device cpu --json");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("\"threads\": 1"), std::string::npos) << run.output;
}

// A run records its device in train_config.json; resume takes it from there, and --device overrides it.
TEST_F(DeviceOption, ResumeUsesTheRunsDeviceUnlessTold) {
  {
    std::ofstream corpus(dir_ / "corpus.jsonl");
    for (int i = 0; i < 100; ++i)
      corpus << "{\"text\": \"sentence " << i << " about the river and the mill\"}\n";
  }
  CliRun run = run_cli("prepare --input " + (dir_ / "corpus.jsonl").string() + " --out " +
                       (dir_ / "data").string() + " --val_fraction 0.1");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const fs::path run_dir = dir_ / "run";
  run =
      run_cli("train --data_dir " + (dir_ / "data").string() + " --out_dir " + run_dir.string() + kTinyModel +
              " --threads 1 --batch_size 2 --max_seq_len 16 --max_steps 2 --save_every 1 --eval_every 0"
              " --device cpu");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  nlohmann::json recorded = nlohmann::json::parse(read_file(run_dir / "train_config.json"));
  EXPECT_EQ(recorded["device"], "cpu");

  recorded["device"] = "cuda:999";
  write_file(run_dir / "train_config.json", recorded.dump(2));
  run = run_cli("resume --out_dir " + run_dir.string() + " --threads 1");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("'cuda:999'"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find(why_no_gpu(999)), std::string::npos) << run.output;

  run = run_cli("resume --out_dir " + run_dir.string() + " --threads 1 --device cpu");
  EXPECT_EQ(run.exit_code, 0) << run.output;
}

}  // namespace
}  // namespace minimind
