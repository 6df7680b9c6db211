// The minimind CLI as a user runs it: real processes, real files. Bad arguments exit non-zero with a message
// naming the problem; forward writes logits, loss and named gradients that agree with the library; an error
// during a run (a full disk, a file-size limit) ends it with a message and exit status 1, not a signal.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "backend/cpu/cpu_backend.h"
#include "config/presets.h"
#include "io/safetensors.h"
#include "model/model_dir.h"
#include "support/cli_run.h"
#include "support/file_contents.h"
#include "support/file_size_limit.h"
#include "support/scratch_directory.h"
#include "support/small_tmpfs.h"
#include "train/checkpoint.h"
#include "train/run_config.h"

namespace minimind {
namespace {

namespace fs = std::filesystem;

class CliTest : public ::testing::Test {
 protected:
  ScratchDirectory scratch_;
  const fs::path dir_ = scratch_.path();
};

TEST_F(CliTest, BadArgumentsExitNonZeroWithAMessage) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "usage"},
      {"frobnicate", "unknown command 'frobnicate'"},
      {"info --hidden_sise 64", "unknown option --hidden_sise"},
      {"info --hidden_size abc", "--hidden_size expects an integer"},
      {"info --num_attention_heads 3", "num_attention_heads"},
      {"info --preset enormous", "enormous"},
      {"forward --out x.safetensors --ids 1,2", "needs --model"},
      {"forward --model /nonexistent --ids 1,2 --out x.safetensors", "/nonexistent"},
      {"bench --batch_size 0", "--batch_size"},
      {"tokenizer", "usage: minimind tokenizer"},
      {"tokenizer frobnicate", "unknown action 'frobnicate'"},
      {"tokenizer decode --ids 1,x", "'x' at position 1"},
      {"tokenizer decode --ids 99999", "outside the vocabulary"},
      {"tokenizer encode --tokenizer /nonexistent --text hi", "/nonexistent"},
      {"prepare --out /tmp/x", "needs --input"},
      {"prepare --input corpus.parquet --out /tmp/x", "give --format"},
      {"prepare --input /nonexistent.jsonl --out /tmp/x", "/nonexistent.jsonl"},
      {"prepare --input x.jsonl --format csv --out /tmp/x", "--format must be"},
      {"generate --prompt hi", "needs --model"},
      {"generate --model /nonexistent", "give exactly one of --prompt, --prompt_ids and --prompts_file"},
      {"generate --model /nonexistent --prompt hi", "/nonexistent"},
      {"generate --model m --prompt hi --top_p 0", "--top_p must be in (0, 1]"},
      {"generate --model m --prompt hi --temperature -1", "--temperature must be >= 0"},
      {"generate --model m --prompt hi --max_new_tokens 0", "--max_new_tokens must be positive"},
      {"generate --model m --prompt hi --top_k x", "--top_k expects an integer"},
      {"generate --model m --prompts_file /nonexistent.txt", "cannot open '/nonexistent.txt'"},
      {"chat --model m --temprature 1", "unknown option --temprature"},
      {"chat --model m --message ''", "--message is empty"},
  };
  for (const auto& [arguments, fragment] : cases) {
    const CliRun run = run_cli(arguments);
    EXPECT_NE(run.exit_code, 0) << arguments;
    EXPECT_NE(run.output.find(fragment), std::string::npos) << arguments << " printed:\n" << run.output;
    EXPECT_EQ(run.output.find("terminate called"), std::string::npos) << arguments;
  }
}

// --config files are read with the strict parser: a 100,000-deep value (which crashed the message's
// recursive json::dump()) and a key given twice exit non-zero with the file and the reason, never a signal.
TEST_F(CliTest, ConfigFilesNestedTooDeepOrWithADuplicateKeyAreRefused) {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"model_type": )" + std::string(100000, '[') + std::string(100000, ']') + "}",
       "arrays or objects nested more than 64 levels deep"},
      {R"({"hidden_size": 64, "hidden_size": 128})", "the key \"hidden_size\" appears twice in one object"},
  };
  const fs::path config = dir_ / "config.json";
  for (const auto& [text, problem] : cases) {
    std::ofstream(config, std::ios::trunc) << text;
    const CliRun run = run_cli("info --config " + config.string());
    EXPECT_TRUE(run.exit_code > 0 && run.exit_code < 128)
        << "exit code " << run.exit_code << ": " << run.output;
    EXPECT_NE(run.output.find("--config " + config.string() + ": " + problem), std::string::npos)
        << run.output;
  }
}

TEST_F(CliTest, HelpListsOptions) {
  const CliRun run = run_cli("forward --help");
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_NE(run.output.find("--grads"), std::string::npos);
}

TEST_F(CliTest, InitThenForwardWritesLogitsLossAndGradients) {
  const fs::path model_dir = dir_ / "model", out = dir_ / "out.safetensors";
  CliRun run = run_cli("init --preset tiny --hidden_size 32 --num_hidden_layers 2 --num_attention_heads 4 "
                    "--num_key_value_heads 2 --vocab_size 50 --use_moe --seed 3 --out " + model_dir.string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  run = run_cli("forward --model " + model_dir.string() + " --ids 5,7,11,13,2 --grads --train --out " + out.string());
  ASSERT_EQ(run.exit_code, 0) << run.output;

  // The same computation through the library.
  CpuBackend backend(1);
  auto model = load_model(model_dir, backend);
  Batch batch{Tensor::empty({1, 5}, DType::i32), Tensor::zeros({1, 5}, DType::i32), Tensor::zeros({1, 5}, DType::f32), {}};
  const int32_t ids[] = {5, 7, 11, 13, 2};
  std::copy(ids, ids + 5, batch.input_ids.data<int32_t>());
  for (int t = 0; t < 4; ++t) {
    batch.targets.data<int32_t>()[t] = ids[t + 1];
    batch.loss_mask.data<float>()[t] = 1;
  }
  backend.zero(model->gradients().buffer());
  const LossTerms loss = model->forward(batch, true);
  model->backward();

  const SafetensorsFile file = SafetensorsFile::open(out);
  EXPECT_EQ(file.entry("logits").shape, (Shape{1, 5, 50}));
  EXPECT_NEAR(file.read("loss", DType::f64).data<double>()[0], loss.loss, 1e-6);
  EXPECT_GT(file.read("aux_loss", DType::f64).data<double>()[0], 0.0);
  const Tensor grad = file.read("grad.model.layers.1.mlp.experts.2.up_proj.weight", DType::f32);
  const Tensor expected = model->gradients().get("model.layers.1.mlp.experts.2.up_proj.weight");
  for (int64_t i = 0; i < grad.numel(); ++i) ASSERT_EQ(grad.data<float>()[i], expected.data<float>()[i]);
  EXPECT_TRUE(file.contains("grad.model.embed_tokens.weight"));
}

TEST_F(CliTest, TokenizerEncodeDecodeRoundTripWithTheDefaultTokenizer) {
  const CliRun encoded = run_cli("tokenizer encode --text '<|im_start|>床前明月光 hello'");
  ASSERT_EQ(encoded.exit_code, 0) << encoded.output;
  EXPECT_EQ(encoded.output.rfind("1,", 0), 0u) << encoded.output;  // the special token is id 1, never split
  std::string ids = encoded.output;
  ids.erase(ids.find_last_not_of("\n") + 1);
  const CliRun decoded = run_cli("tokenizer decode --ids " + ids);
  ASSERT_EQ(decoded.exit_code, 0) << decoded.output;
  EXPECT_EQ(decoded.output, "<|im_start|>床前明月光 hello\n");
}

TEST_F(CliTest, TokenizerTrainThenPrepareReportsSkippedLines) {
  {
    std::ofstream corpus(dir_ / "corpus.jsonl");
    for (int i = 0; i < 50; ++i) corpus << "{\"text\": \"line " << i << " of a small corpus\"}\n";
    corpus << "not json\n";
  }
  CliRun run = run_cli("tokenizer train --input " + (dir_ / "corpus.jsonl").string() + " --vocab_size 300 --out " +
                       (dir_ / "tok").string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("trained 300 tokens"), std::string::npos) << run.output;
  run = run_cli("prepare --input " + (dir_ / "corpus.jsonl").string() + " --tokenizer " + (dir_ / "tok").string() +
                " --out " + (dir_ / "shards").string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("skipped     1 inputs"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("corpus.jsonl:51: malformed JSON"), std::string::npos) << run.output;
  EXPECT_TRUE(fs::exists(dir_ / "shards" / "train.shard"));
  run = run_cli("prepare --on_bad_input stop --input " + (dir_ / "corpus.jsonl").string() + " --tokenizer " +
                (dir_ / "tok").string() + " --out " + (dir_ / "stopped").string());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("corpus.jsonl:51"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(dir_ / "stopped" / "train.shard"));
}

TEST_F(CliTest, GenerateGreedyIsDeterministicAndChatKeepsGoing) {
  const fs::path model_dir = dir_ / "model";
  CliRun run = run_cli("init --preset tiny --hidden_size 64 --num_hidden_layers 2 --num_attention_heads 4 "
                       "--num_key_value_heads 2 --seed 1 --out " + model_dir.string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::string generate = "generate --model " + model_dir.string() +
                               " --prompt 'Once upon a time' --greedy --ignore_eos --max_new_tokens 16 --threads 1";
  const CliRun first = run_cli(generate), second = run_cli(generate);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_EQ(first.output, second.output);
  EXPECT_GT(first.output.size(), 2u) << first.output;
  EXPECT_EQ(first.output.back(), '\n');

  run = run_cli(generate + " --benchmark");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("\"decode_tokens_per_s\""), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("\"generated_tokens\": 16"), std::string::npos) << run.output;

  {
    std::ofstream prompts(dir_ / "prompts.txt");
    prompts << "first prompt\nsecond, longer prompt than the first\n";
  }
  run = run_cli("generate --model " + model_dir.string() + " --prompts_file " + (dir_ / "prompts.txt").string() +
                " --seed 3 --max_new_tokens 5");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output.find("[0] first prompt"), 0u) << run.output;
  EXPECT_NE(run.output.find("\n[1] second, longer prompt"), std::string::npos) << run.output;

  run = run_cli("chat --model " + model_dir.string() + " --greedy --max_new_tokens 4 --message hello");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  {
    std::ofstream input(dir_ / "conversation.txt");
    input << "hello\n/reset\nhow are you?\n";
  }
  run = run_cli("chat --model " + model_dir.string() + " --greedy --max_new_tokens 4 < " +
                (dir_ / "conversation.txt").string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
}

TEST_F(CliTest, TrainStopResumeEvalFromTheCommandLine) {
  {
    std::ofstream corpus(dir_ / "corpus.jsonl");
    for (int i = 0; i < 200; ++i) corpus << "{\"text\": \"sentence " << i << " about the river and the mill\"}\n";
  }
  CliRun run = run_cli("prepare --input " + (dir_ / "corpus.jsonl").string() + " --out " + (dir_ / "data").string() +
                       " --val_fraction 0.1");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::string model = " --preset tiny --hidden_size 32 --num_hidden_layers 2 --num_attention_heads 4"
                            " --num_key_value_heads 2 --threads 1";
  run = run_cli("train --data_dir " + (dir_ / "data").string() + " --out_dir " + (dir_ / "run").string() + model +
                " --batch_size 4 --max_seq_len 32 --max_steps 6 --save_every 3 --eval_every 3 --sample_every 6");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("finished after 6 steps"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("sample at step 6"), std::string::npos) << run.output;
  for (const char* file : {"metrics.jsonl", "metrics.csv", "train_config.json", "config.json", "command.txt"})
    EXPECT_TRUE(fs::exists(dir_ / "run" / file)) << file;
  bool tensorboard = false;
  for (const auto& entry : fs::directory_iterator(dir_ / "run"))
    tensorboard |= entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  EXPECT_TRUE(tensorboard);
  EXPECT_TRUE(fs::exists(dir_ / "run" / "checkpoints" / "step-000006" / "COMPLETE"));

  // A second train into the same run directory is refused; resume of a finished run has nothing to do.
  run = run_cli("train --data_dir " + (dir_ / "data").string() + " --out_dir " + (dir_ / "run").string() + model);
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find("minimind resume"), std::string::npos) << run.output;
  run = run_cli("resume --out_dir " + (dir_ / "run").string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("finished after 6 steps"), std::string::npos) << run.output;
  run = run_cli("train --resume --out_dir " + (dir_ / "run").string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("finished after 6 steps"), std::string::npos) << run.output;

  run = run_cli("eval --model " + (dir_ / "run" / "checkpoints" / "step-000006").string() + " --data " +
                (dir_ / "data").string() + " --max_seq_len 32");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("perplexity"), std::string::npos) << run.output;
  // Supervised fine-tuning of the trained model on conversations (loss on the assistant's tokens).
  {
    std::ofstream sft(dir_ / "sft.jsonl");
    for (int i = 0; i < 40; ++i)
      sft << "{\"conversations\": [{\"role\": \"user\", \"content\": \"count to " << i
          << "\"}, {\"role\": \"assistant\", \"content\": \"" << i << " and done\"}]}\n";
  }
  run = run_cli("prepare --input " + (dir_ / "sft.jsonl").string() + " --out " + (dir_ / "sft_data").string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  run = run_cli("train --mode sft --from " + (dir_ / "run" / "checkpoints" / "step-000006").string() +
                " --data_dir " + (dir_ / "sft_data").string() + " --out_dir " + (dir_ / "sft_run").string() +
                " --batch_size 4 --max_seq_len 48 --max_steps 3 --threads 1");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("finished after 3 steps"), std::string::npos) << run.output;

  run = run_cli("resume --out_dir " + (dir_ / "nothing").string());
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find("no complete checkpoint"), std::string::npos) << run.output;
}

TEST_F(CliTest, TrainTakesARunConfigWhoseSettingsFlagsOverride) {
  {
    std::ofstream corpus(dir_ / "corpus.jsonl");
    for (int i = 0; i < 100; ++i) corpus << "{\"text\": \"line " << i << " of the miller's tale\"}\n";
  }
  CliRun run = run_cli("prepare --input " + (dir_ / "corpus.jsonl").string() + " --out " + (dir_ / "data").string());
  ASSERT_EQ(run.exit_code, 0) << run.output;

  RunConfig config;
  config.model = preset("tiny");
  config.model.hidden_size = 32;
  config.model.num_hidden_layers = 2;
  config.model.num_attention_heads = 4;
  config.model.num_key_value_heads = 2;
  config.model.intermediate_size.reset();
  config.train.batch_size = 3;
  config.train.seq_len = 24;
  config.train.max_steps = 2;
  config.train.schedule.kind = ScheduleKind::constant;
  config.train.schedule.learning_rate = 7e-4;
  config.train.schedule.total_steps = 0;
  config.train.eval_every = 0;
  config.train.save_every = 0;
  config.train.threads = 1;
  const fs::path file = dir_ / "run_config.json";
  save_run_config(config, file);

  const auto read_json = [](const fs::path& path) { return nlohmann::json::parse(std::ifstream(path)); };
  const std::string data = " --data_dir " + (dir_ / "data").string();
  run = run_cli("train --config " + file.string() + data + " --out_dir " + (dir_ / "run").string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("finished after 2 steps"), std::string::npos) << run.output;
  nlohmann::json trained = read_json(dir_ / "run" / "train_config.json");
  EXPECT_EQ(trained["batch_size"], 3);
  EXPECT_EQ(trained["seq_len"], 24);
  EXPECT_EQ(trained["schedule"]["learning_rate"], 7e-4);
  EXPECT_EQ(trained["schedule"]["kind"], "constant");
  EXPECT_EQ(read_json(dir_ / "run" / "config.json")["hidden_size"], 32);

  // A flag overrides the file's value; the rest still comes from the file.
  run = run_cli("train --config " + file.string() + data + " --out_dir " + (dir_ / "run2").string() +
                " --batch_size 2");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  trained = read_json(dir_ / "run2" / "train_config.json");
  EXPECT_EQ(trained["batch_size"], 2);
  EXPECT_EQ(trained["schedule"]["learning_rate"], 7e-4);

  // A flag that breaks a training rule is refused naming the field; so is a wrong type in the file.
  run = run_cli("train --config " + file.string() + data + " --out_dir " + (dir_ / "run3").string() +
                " --max_seq_len 40000");
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find("max_seq_len: must be at most max_position_embeddings"), std::string::npos)
      << run.output;
  nlohmann::json broken = read_json(file);
  broken["train"]["batch_size"] = "three";
  std::ofstream(dir_ / "broken.json") << broken.dump();
  run = run_cli("train --config " + (dir_ / "broken.json").string() + data + " --out_dir " +
                (dir_ / "run4").string());
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find("train.batch_size: expected an integer"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find((dir_ / "broken.json").string()), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(dir_ / "run4"));
}

// A small corpus prepared into shards under `dir`/data (the default tokenizer), for runs of the tiny model.
void prepare_small_corpus(const fs::path& dir) {
  {
    std::ofstream corpus(dir / "corpus.jsonl");
    for (int i = 0; i < 200; ++i)
      corpus << "{\"text\": \"sentence " << i << " about the river and the mill\"}\n";
  }
  const CliRun run = run_cli("prepare --input " + (dir / "corpus.jsonl").string() + " --out " +
                             (dir / "data").string() + " --val_fraction 0.1");
  ASSERT_EQ(run.exit_code, 0) << run.output;
}

const std::string kTinyRun =
    " --preset tiny --hidden_size 32 --num_hidden_layers 2 --num_attention_heads 4"
    " --num_key_value_heads 2 --threads 1 --batch_size 4 --max_seq_len 32";

// The run_failed event in a run's metrics.jsonl, after checking that every line of it is whole JSON.
nlohmann::json run_failed_in(const fs::path& metrics) {
  const std::string bytes = read_file(metrics);
  EXPECT_FALSE(bytes.empty());
  EXPECT_EQ(bytes.back(), '\n') << "metrics.jsonl ends with half a line";
  nlohmann::json found;
  std::istringstream lines(bytes);
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json json = nlohmann::json::parse(line, nullptr, false);
    EXPECT_FALSE(json.is_discarded()) << line;
    if (!json.is_discarded() && json["type"] == "run_failed") found = json;
  }
  return found;
}

uint64_t directory_bytes(const fs::path& dir) {
  uint64_t bytes = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) bytes += entry.file_size();
  return bytes;
}

// Reference: the exit status as waitpid reports it (a normal exit with 1, not a signal; before, the trainer's
// error reached a joinable std::thread and std::terminate aborted with SIGABRT), the checkpoint files
// verified by their COMPLETE checksums, and metrics.jsonl parsed line by line.
TEST_F(CliTest, AFullDiskEndsTheRunWithAMessageAndKeepsTheLastCheckpoint) {
  prepare_small_corpus(dir_);
  // One checkpoint's size, measured on the ordinary disk with the same settings.
  CliRun run = run_cli("train --data_dir " + (dir_ / "data").string() + " --out_dir " +
                       (dir_ / "measure").string() + kTinyRun + " --max_steps 2 --save_every 2");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const uint64_t checkpoint_bytes = directory_bytes(dir_ / "measure" / "checkpoints" / "step-000002");
  // Room for the logs and one and a half checkpoints: the one of step 2 fits, the one of step 4 does not.
  const SmallTmpfs disk(dir_ / "disk", checkpoint_bytes * 3 / 2 + (256 << 10));
  if (!disk.mounted()) GTEST_SKIP() << disk.failure();
  const fs::path run_dir = dir_ / "disk" / "run";
  run = run_cli("train --data_dir " + (dir_ / "data").string() + " --out_dir " + run_dir.string() + kTinyRun +
                " --max_steps 8 --save_every 2");
  ASSERT_TRUE(WIFEXITED(run.status)) << "ended by signal " << WTERMSIG(run.status) << ":\n" << run.output;
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("minimind train: "), std::string::npos) << run.output;
  EXPECT_NE(run.output.find((run_dir / "checkpoints" / "step-000004").string()), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("No space left on device"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("error at step 4: training failed at step 4 while writing a checkpoint"),
            std::string::npos)
      << run.output;
  EXPECT_EQ(run.output.find("terminate called"), std::string::npos) << run.output;

  const fs::path last = run_dir / "checkpoints" / "step-000002";
  EXPECT_EQ(latest_checkpoint(run_dir), last);
  EXPECT_NO_THROW(verify_checkpoint(last));
  CpuBackend backend(1);
  EXPECT_NO_THROW(load_model(last, backend));
  const nlohmann::json failed = run_failed_in(run_dir / "metrics.jsonl");
  ASSERT_FALSE(failed.is_null()) << read_file(run_dir / "metrics.jsonl");
  EXPECT_NE(failed["error"].get<std::string>().find("No space left on device"), std::string::npos) << failed;
  EXPECT_EQ(failed["last_checkpoint"], last.string());
  EXPECT_NE(failed["message"].get<std::string>().find("The last complete checkpoint is " + last.string()),
            std::string::npos)
      << failed;
}

// The same without root: a file-size limit (ulimit -f) refuses the first checkpoint's model file. Before,
// SIGXFSZ killed the process without a word.
TEST_F(CliTest, AFileSizeLimitEndsTheRunWithAMessageNotASignal) {
  prepare_small_corpus(dir_);
  const fs::path run_dir = dir_ / "run";
  CliRun run;
  {
    // Larger than the logs and configs, smaller than the model file (6400 x 32 embedding floats alone).
    const FileSizeLimit limit(200 << 10, /*ignore_sigxfsz=*/false);  // the CLI must ignore it itself
    run = run_cli("train --data_dir " + (dir_ / "data").string() + " --out_dir " + run_dir.string() +
                  kTinyRun + " --max_steps 4 --save_every 2");
  }
  ASSERT_TRUE(WIFEXITED(run.status)) << "ended by signal " << WTERMSIG(run.status) << ":\n" << run.output;
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("model.safetensors"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("File too large"), std::string::npos) << run.output;
  EXPECT_FALSE(latest_checkpoint(run_dir).has_value());
  const nlohmann::json failed = run_failed_in(run_dir / "metrics.jsonl");
  ASSERT_FALSE(failed.is_null()) << read_file(run_dir / "metrics.jsonl");
  EXPECT_TRUE(failed["last_checkpoint"].is_null()) << failed;
  EXPECT_NE(failed["message"].get<std::string>().find("No checkpoint of this run was written"),
            std::string::npos)
      << failed;
}

TEST_F(CliTest, InfoReportsParametersAndMemory) {
  const CliRun run = run_cli("info --preset small --batch_size 32 --seq_len 512");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("parameters: 25.8"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("activations"), std::string::npos);
}

}  // namespace
}  // namespace minimind
