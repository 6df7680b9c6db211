// The memory preflight as a user meets it: the built minimind refuses plans of TiB before allocating them,
// with a normal exit code 1, the figures and a suggestion, and a peak resident size (the child's ru_maxrss,
// from wait4) of a few MiB. The sizes are so large (TiB and more) that every machine refuses them, so the
// test does not depend on this machine's memory; only the suggested sizes do, and they are matched by form.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/cuda/cuda_device.h"
#include "config/presets.h"
#include "support/file_contents.h"
#include "support/random_shards.h"
#include "support/scratch_directory.h"
#include "train/train_config.h"

extern char** environ;

namespace minimind {
namespace {

namespace fs = std::filesystem;

// The tokenizer and 100,000 short prompts take about 20 MiB; a refused plan adds nothing. Counted above what
// the program holds before it does anything (minimind --help): a build with the CUDA backend maps its
// libraries, about 200 MiB, at start.
constexpr int64_t kPeakResidentBound = int64_t{64} << 20;

// An address-space limit (RLIMIT_AS) that the children spawned meanwhile inherit; restored afterwards.
class AddressSpaceLimit {
 public:
  explicit AddressSpaceLimit(int64_t bytes) {
    if (::getrlimit(RLIMIT_AS, &saved_) != 0) throw std::runtime_error("getrlimit(RLIMIT_AS) failed");
    rlimit limited = saved_;
    limited.rlim_cur = static_cast<rlim_t>(bytes);
    if (::setrlimit(RLIMIT_AS, &limited) != 0) throw std::runtime_error("setrlimit(RLIMIT_AS) failed");
  }
  ~AddressSpaceLimit() { ::setrlimit(RLIMIT_AS, &saved_); }
  AddressSpaceLimit(const AddressSpaceLimit&) = delete;
  AddressSpaceLimit& operator=(const AddressSpaceLimit&) = delete;

 private:
  rlimit saved_{};
};

struct ChildRun {
  bool exited = false;  // a normal exit, not a signal
  int exit_code = -1;
  std::string output;  // stdout and stderr
  int64_t peak_resident_bytes = 0;
};

// Runs the built minimind with `arguments` (no shell), its output to a file, and measures its peak RSS.
ChildRun run_minimind(const std::vector<std::string>& arguments, const fs::path& output_file) {
  std::vector<std::string> argv_storage = {MINIMIND_CLI_PATH};
  argv_storage.insert(argv_storage.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& argument : argv_storage) argv.push_back(argument.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t child = 0;
  const int spawned = posix_spawn(&child, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ChildRun run;
  if (spawned != 0) {
    run.output = "posix_spawn failed: " + std::string(std::strerror(spawned));
    return run;
  }
  int status = 0;
  rusage usage{};
  if (::wait4(child, &status, 0, &usage) != child) {
    run.output = "wait4 failed";
    return run;
  }
  run.exited = WIFEXITED(status);
  run.exit_code = run.exited ? WEXITSTATUS(status) : -WTERMSIG(status);
  run.peak_resident_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;  // kilobytes on Linux
  run.output = read_file(output_file);
  return run;
}

class MemoryCheckCliTest : public ::testing::Test {
 protected:
  // A refusal: exit code 1 without a signal, the figures, a suggestion of the expected form, a small peak.
  void expect_refused(const ChildRun& run, const std::vector<std::string>& fragments,
                      const std::string& suggestion, const std::string& what) {
    EXPECT_TRUE(run.exited) << what << " ended by signal " << -run.exit_code;
    EXPECT_EQ(run.exit_code, 1) << what << " printed:\n" << run.output;
    for (const std::string& fragment : fragments)
      EXPECT_NE(run.output.find(fragment), std::string::npos) << what << ": no '" << fragment << "' in:\n"
                                                              << run.output;
    EXPECT_TRUE(std::regex_search(run.output, std::regex(suggestion))) << what << ": no suggestion in:\n"
                                                                       << run.output;
    EXPECT_TRUE(std::regex_search(run.output, std::regex(R"(, but [0-9.]+ [KMGT]?i?B is available \()")))
        << what << ": the available memory is not stated:\n"
        << run.output;
    EXPECT_NE(run.output.find("To start anyway, pass --skip_memory_check."), std::string::npos) << what;
    EXPECT_LT(run.peak_resident_bytes, resident_bound()) << what << " allocated before refusing";
    std::printf("[          ] %s: exit %d, peak RSS %.1f MiB\n", what.c_str(), run.exit_code,
                static_cast<double>(run.peak_resident_bytes) / (1 << 20));
  }

  ChildRun minimind(const std::vector<std::string>& arguments) {
    return run_minimind(arguments, dir_ / ("output-" + std::to_string(runs_++) + ".txt"));
  }

  // The program's own resident size at start, plus kPeakResidentBound and `extra`.
  int64_t resident_bound(int64_t extra = 0) {
    if (startup_resident_bytes_ < 0) {
      const ChildRun help = minimind({"--help"});
      EXPECT_EQ(help.exit_code, 0) << help.output;
      startup_resident_bytes_ = help.peak_resident_bytes;
      std::printf("[          ] minimind at start: peak RSS %.1f MiB\n",
                  static_cast<double>(startup_resident_bytes_) / (1 << 20));
    }
    return startup_resident_bytes_ + kPeakResidentBound + extra;
  }

  // A model directory of the tiny preset (4 layers, vocab 6400, 32768 positions), 8 kv heads of 32: 2 KiB of
  // keys and values per token per layer.
  fs::path tiny_model() {
    const fs::path model = dir_ / "tiny";
    const ChildRun init =
        minimind({"init", "--preset", "tiny", "--num_key_value_heads", "8", "--out", model});
    EXPECT_EQ(init.exit_code, 0) << init.output;
    return model;
  }

  ScratchDirectory scratch_;
  const fs::path dir_ = scratch_.path();
  int runs_ = 0;
  int64_t startup_resident_bytes_ = -1;
};

TEST_F(MemoryCheckCliTest, TrainRefusesTheLargePresetAt64x4096) {
  // The issue's command: it used to grow past 21 GB until the OOM killer ended it. 787 GiB by the estimate.
  const ChildRun run = minimind({"train", "--preset", "large", "--batch_size", "64", "--max_seq_len", "4096",
                                 "--data_dir", dir_ / "no-data", "--out_dir", dir_ / "run"});
  expect_refused(
      run,
      {"minimind train: training at --batch_size 64 x --max_seq_len 4096 needs 787.0 GiB (activations "
       "770.2 GiB, AdamW state 8.4 GiB, weights 4.2 GiB), 866.0 GiB with the safety margin (10% + 256.0 "
       "MiB)"},
      R"(The largest --batch_size that fits at --max_seq_len 4096 is \d+; --batch_size \d+ with )"
      R"(--accumulation_steps \d+ to keep 64 sequences per optimizer step\.)"
      R"(|Not even --batch_size 1 fits at --max_seq_len 4096; the longest --max_seq_len that fits at )"
      R"(--batch_size 1 is \d+, with --accumulation_steps 64 to keep 64 sequences per optimizer step\.)"
      R"(|the model alone needs [0-9.]+ GiB)",
      "train");
  EXPECT_FALSE(fs::exists(dir_ / "run")) << "nothing is written for a refused run";
}

TEST_F(MemoryCheckCliTest, EvalRefusesAHugeBatch) {
  // 100,000 x 4096 tokens on the tiny model: the logits alone are 100,000 x 4096 x 6400 x 4 bytes = 9.5 TiB.
  const fs::path model = tiny_model();
  const ChildRun run = minimind({"eval", "--model", model, "--data", dir_ / "no-data", "--batch_size",
                                 "100000", "--max_seq_len", "4096"});
  expect_refused(
      run,
      {"minimind eval: evaluation at --batch_size 100000 x --max_seq_len 4096 needs 43.7 TiB (activations "
       "43.7 TiB, "
       "weights 18.5 MiB, RoPE tables 8.0 MiB)"},
      R"(The largest --batch_size that fits at --max_seq_len 4096 is \d+\.)"
      R"(|Not even --batch_size 1 fits at --max_seq_len 4096; the longest --max_seq_len that fits at )"
      R"(--batch_size 1 is \d+\.)",
      "eval");
}

TEST_F(MemoryCheckCliTest, BenchRefusesHugeShapes) {
  const ChildRun run =
      minimind({"bench", "--preset", "small", "--batch_size", "100000", "--seq_len", "4096"});
  expect_refused(
      run,
      {"minimind bench: training at --batch_size 100000 x --seq_len 4096 needs 114.8 TiB (activations 114.8 "
       "TiB, AdamW state 197.1 MiB, weights 98.5 MiB)"},
      R"(The largest --batch_size that fits at --seq_len 4096 is \d+\.)"
      R"(|Not even --batch_size 1 fits at --seq_len 4096; the longest --seq_len that fits at )"
      R"(--batch_size 1 is \d+\.)",
      "bench");
  EXPECT_EQ(run.output.find("accumulation"), std::string::npos) << "bench has no accumulation to suggest";
}

TEST_F(MemoryCheckCliTest, ResumeRefusesARunWhoseSizesDoNotFit) {
  // A run directory as the trainer leaves it: the model's config.json and the run's train_config.json.
  const fs::path run = dir_ / "run";
  fs::create_directories(run);
  save_config(preset("tiny"), run / "config.json");
  TrainConfig train;
  train.batch_size = 100000;
  train.seq_len = 4096;
  std::ofstream(run / "train_config.json") << train_config_to_json(train).dump(2);
  const ChildRun result = minimind({"resume", "--out_dir", run});
  expect_refused(
      result,
      {"minimind resume: training at batch size 100000 x sequence length 4096 needs 39.6 TiB (activations "
       "39.6 TiB, AdamW state 34.0 MiB"},
      R"(The largest batch size that fits at sequence length 4096 is \d+; batch size \d+ with )"
      R"(accumulation steps \d+ to keep 100000 sequences per optimizer step\.)"
      R"(|Not even batch size 1 fits at sequence length 4096)",
      "resume");
  EXPECT_NE(result.output.find("A resumed run keeps the sizes it started with"), std::string::npos);
}

TEST_F(MemoryCheckCliTest, GenerateRefusesAHugeKvCache) {
  // 100,000 prompts, each with a cache of 32,768 positions: 100,000 x 32,768 x 4 layers x 2 KiB = 24.4 TiB.
  const fs::path model = tiny_model(), prompts = dir_ / "prompts.txt";
  {
    std::ofstream out(prompts);
    for (int i = 0; i < 100000; ++i) out << "a\n";
  }
  const ChildRun run =
      minimind({"generate", "--model", model, "--prompts_file", prompts, "--max_new_tokens", "32768"});
  expect_refused(
      run,
      {"minimind generate: generation at batch of --prompts_file lines 100000 x --max_new_tokens 32768 "
       "needs 24.4 TiB (KV cache 24.4 TiB, "},
      R"(The largest batch of --prompts_file lines that fits at --max_new_tokens 32768 is \d+\.)"
      R"(|the longest --max_new_tokens that fits at batch of --prompts_file lines 1 is \d+\.)",
      "generate");
}

TEST_F(MemoryCheckCliTest, ForwardRefusesAHugeBatch) {
  // 320 sequences of 32,768 ids: the logits alone are 320 x 32,768 x 6400 x 4 bytes = 250 GiB, the whole
  // plan about 1 TiB. The input file (40 MiB of ids, sparse on disk) is read before the refusal.
  const fs::path model = tiny_model(), input = dir_ / "input.safetensors";
  {
    const int64_t data_bytes = int64_t{320} * 32768 * 4;
    std::string header = R"({"input_ids":{"dtype":"I32","shape":[320,32768],"data_offsets":[0,)" +
                         std::to_string(data_bytes) + "]}}";
    header.resize((header.size() + 7) / 8 * 8, ' ');
    std::ofstream out(input, std::ios::binary);
    uint64_t length = header.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((length >> (8 * i)) & 0xFF));
    out << header;
    out.close();
    fs::resize_file(input, 8 + header.size() + static_cast<uint64_t>(data_bytes));
  }
  const ChildRun run =
      minimind({"forward", "--model", model, "--input", input, "--out", dir_ / "out.safetensors"});
  EXPECT_TRUE(run.exited);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("minimind forward: the forward at batch 320 x sequence length 32768 needs "),
            std::string::npos)
      << run.output;
  EXPECT_LT(run.peak_resident_bytes, resident_bound()) << "the input's 40 MiB and no more";
}

// On a GPU (skipped without one): the plan is the GPU's bf16 estimate against the GPU's free memory, and
// an out-of-memory that the check let through (--skip_memory_check) ends with the sizes that fit in the
// GPU's whole memory. The process maps the CUDA libraries, so its resident size is not bounded here.
class MemoryCheckCliOnAGpu : public MemoryCheckCliTest {
 protected:
  void SetUp() override {
    if (!cuda_unavailable_reason(0).empty()) GTEST_SKIP() << "no GPU: " << cuda_unavailable_reason(0);
  }
};

TEST_F(MemoryCheckCliOnAGpu, TrainIsCheckedAgainstTheGpusFreeMemory) {
  const ChildRun run =
      minimind({"train", "--device", "cuda:0", "--preset", "large", "--batch_size", "64", "--max_seq_len",
                "4096", "--data_dir", dir_ / "no-data", "--out_dir", dir_ / "run"});
  EXPECT_TRUE(run.exited);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_TRUE(std::regex_search(run.output, std::regex(R"(is available \(cuda:0 free memory, [^)]+\))")))
      << run.output;
  EXPECT_TRUE(std::regex_search(
      run.output, std::regex(R"(The largest --batch_size that fits at --max_seq_len 4096 is \d+)"
                             R"(|the longest --max_seq_len that fits at --batch_size 1 is \d+)")))
      << run.output;
  EXPECT_FALSE(fs::exists(dir_ / "run"));
}

TEST_F(MemoryCheckCliOnAGpu, AnOutOfMemoryDuringTrainingSaysWhatFits) {
  fs::create_directories(dir_ / "data");
  std::mt19937_64 rng(5);
  for (const char* name : {"train.shard", "validation.shard"})
    write_random_shard(dir_ / "data" / name, 6400, 100, 5000, 4097, rng);
  const ChildRun run = minimind({"train", "--device", "cuda:0", "--preset", "large", "--batch_size", "64",
                                 "--max_seq_len", "4096", "--max_steps", "1", "--data_dir", dir_ / "data",
                                 "--out_dir", dir_ / "run", "--skip_memory_check"});
  EXPECT_TRUE(run.exited) << "ended by signal " << -run.exit_code;
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("is out of memory"), std::string::npos) << run.output;
  // Against the whole GPU: the sizes that fit there, or (a GPU large enough for the plan) that something else
  // held the memory.
  EXPECT_TRUE(std::regex_search(run.output, std::regex(R"(\(cuda:0 total memory, [^)]+\))"))) << run.output;
  EXPECT_TRUE(std::regex_search(
      run.output, std::regex(R"(The largest --batch_size that fits at --max_seq_len 4096 is \d+)"
                             R"(|the longest --max_seq_len that fits at --batch_size 1 is \d+)"
                             R"(|Free that memory, or lower the --batch_size)")))
      << run.output;
}

TEST_F(MemoryCheckCliTest, EveryPlanningCommandDocumentsTheOverride) {
  for (const char* command : {"train", "resume", "eval", "bench", "generate", "chat", "forward"}) {
    const ChildRun run = minimind({command, "--help"});
    EXPECT_EQ(run.exit_code, 0) << command;
    EXPECT_NE(run.output.find("--skip_memory_check"), std::string::npos) << command << " --help:\n"
                                                                         << run.output;
  }
}

TEST_F(MemoryCheckCliTest, SkipMemoryCheckGoesOnAndTheAllocationFailsCleanly) {
  // With the override the bench builds the model (weights, gradients and AdamW state: 71 MiB) and its batch
  // (16 MiB), then asks for its plan: 208 GiB, past the 64 GiB of address space the child is given here (so
  // the test does not depend on the machine's memory). The allocation fails before anything is written into
  // those buffers, and the command ends with the out-of-memory message, not a signal.
  const AddressSpaceLimit limit(int64_t{64} << 30);
  const ChildRun run = minimind(
      {"bench", "--preset", "tiny", "--batch_size", "64", "--seq_len", "32768", "--skip_memory_check"});
  EXPECT_TRUE(run.exited) << "ended by signal " << -run.exit_code;
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("Going on as --skip_memory_check asks."), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("out of memory"), std::string::npos) << run.output;
  EXPECT_LT(run.peak_resident_bytes, resident_bound(int64_t{100} << 20)) << "the model and batch only";
}

}  // namespace
}  // namespace minimind
