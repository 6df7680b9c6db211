// The generation controller on a tiny random model written with the core's save_model, against the core
// called directly on the same weights: greedy generation streams the tokens and text the core Generator gives
// (completion and chat), the candidates are the sampler's, a stop ends the generation after one token, bad
// directories are refused naming the path, and on-demand attention maps equal probe_attention's.
#include "lab/generation_controller.h"

#include <gtest/gtest.h>

#include <QCoreApplication>
#include <QThread>
#include <chrono>
#include <cmath>
#include <fstream>

#include "backend/cpu/cpu_backend.h"
#include "backend/cuda/cuda_device.h"
#include "config/resources.h"
#include "data/token_shard.h"
#include "infer/attention_probe.h"
#include "infer/generator.h"
#include "lab/training_controller.h"
#include "model/model_dir.h"
#include "support/default_tokenizer_model.h"
#include "support/event_loop.h"
#include "support/scratch_directory.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/tokenizer.h"

namespace minimind {
namespace {

ModelConfig tiny_config() { return small_model_for_default_tokenizer(128); }

// What the controller's signals delivered.
struct Received {
  QString description;
  std::vector<int> ids;
  QString text;
  std::vector<TokenCandidates> candidates;
  QString reason;
  double tokens_per_s = -1;
  QStringList failures;
  std::optional<AttentionMaps> maps;
  bool on_gui_thread = true;

  explicit Received(GenerationController& controller) {
    const Qt::HANDLE gui = QThread::currentThreadId();
    QObject::connect(&controller, &GenerationController::model_loaded, [this](const QString& d) { description = d; });
    QObject::connect(&controller, &GenerationController::token,
                     [this, gui](int id, const QString& piece, const TokenCandidates& list) {
                       ids.push_back(id);
                       text += piece;
                       candidates.push_back(list);
                       on_gui_thread = on_gui_thread && QThread::currentThreadId() == gui;
                     });
    QObject::connect(&controller, &GenerationController::finished, [this](const QString& r, double speed) {
      reason = r;
      tokens_per_s = speed;
    });
    QObject::connect(&controller, &GenerationController::failed, [this](const QString& m) { failures << m; });
    QObject::connect(&controller, &GenerationController::attention_maps,
                     [this](const AttentionMaps& m) { maps = m; });
  }
};

class GenerationControllerTest : public ::testing::Test {
 protected:
  GenerationControllerTest()
      : backend_(2), tokenizer_(Tokenizer::load(default_tokenizer_dir() / "tokenizer.json")),
        model_(tiny_config(), backend_) {
    model_.init_weights(21);
    model_dir_ = dir_ / "tiny";
    save_model(model_, model_dir_);  // no tokenizer.json in it: the default one is used
  }

  // The core's greedy continuation of `ids` on the same weights.
  GeneratedSequence reference_greedy(const std::vector<int32_t>& ids, int64_t max_new_tokens) {
    auto loaded = load_model(model_dir_, backend_);
    Generator generator(*loaded, tokenizer_);
    GenerationOptions options;
    options.sampling.greedy = true;
    options.max_new_tokens = max_new_tokens;
    return generator.generate({ids}, options).sequences.front();
  }

  static GenerationRequest greedy_request(int max_new_tokens) {
    GenerationRequest request;
    request.temperature = 0;
    request.max_new_tokens = max_new_tokens;
    request.candidates = 3;
    return request;
  }

  // A run of the tiny model on prepared random ids that only a stop ends, with the probes every 2 steps.
  TrainConfig endless_run(const std::string& device) {
    std::filesystem::create_directories(dir_ / "data");
    {
      TokenShardWriter writer(dir_ / "data" / "train.shard", {6400, false});
      for (int d = 0; d < 100; ++d) {
        std::vector<int32_t> ids(12);
        for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(300 + (d * 7 + i * 13) % 500);
        writer.add_document(ids);
      }
      writer.finish();
    }
    TrainConfig config;
    config.device = device;
    config.data_dir = dir_ / "data";
    config.run_dir = dir_ / "run";
    config.batch_size = 2;
    config.seq_len = 8;
    config.max_steps = 100000;  // only a stop ends it
    config.eval_every = 0;
    config.save_every = 0;
    config.sample_every = 2;
    config.sample_tokens = 2;
    config.tokenizer = default_tokenizer_dir() / "tokenizer.json";
    config.threads = 1;
    return config;
  }

  ScratchDirectory dir_;
  CpuBackend backend_;
  Tokenizer tokenizer_;
  MiniMindModel model_;
  std::filesystem::path model_dir_;
};

TEST_F(GenerationControllerTest, GreedyStreamsWhatTheCoreGeneratorGives) {
  GenerationController controller(nullptr, "cpu", 2);
  Received got(controller);
  const QString dir = QString::fromStdString(model_dir_.string());
  ASSERT_TRUE(controller.load_model_dir(dir));
  ASSERT_TRUE(wait_for([&] { return !got.description.isEmpty() || !got.failures.isEmpty(); }));
  ASSERT_TRUE(got.failures.isEmpty()) << got.failures.join("; ").toStdString();
  EXPECT_TRUE(got.description.contains(dir)) << got.description.toStdString();
  EXPECT_TRUE(got.description.contains("2 layers"));
  EXPECT_TRUE(got.description.contains("vocabulary 6400"));
  EXPECT_TRUE(controller.has_model());

  const QString prompt = "Once upon a time there was";
  ASSERT_TRUE(controller.generate(prompt, greedy_request(12)));
  ASSERT_TRUE(wait_for([&] { return !got.reason.isEmpty() || !got.failures.isEmpty(); }));
  ASSERT_TRUE(got.failures.isEmpty()) << got.failures.join("; ").toStdString();

  const GeneratedSequence expected = reference_greedy(tokenizer_.encode(prompt.toStdString()), 12);
  ASSERT_EQ(got.ids.size(), expected.tokens.size());
  EXPECT_EQ(got.ids.size(), 12u) << "the random model ended its text early: a weaker comparison";
  for (size_t i = 0; i < got.ids.size(); ++i) EXPECT_EQ(got.ids[i], expected.tokens[i]) << "token " << i;
  EXPECT_EQ(got.text.toStdString(), expected.text);
  EXPECT_EQ(got.reason, expected.stop_reason == StopReason::stop_id ? "end of text" : "max tokens reached");
  EXPECT_GT(got.tokens_per_s, 0);
  EXPECT_TRUE(got.on_gui_thread);
  // Greedy: the first candidate is the token taken, the list is sorted by probability.
  for (size_t i = 0; i < got.ids.size(); ++i) {
    const TokenCandidates& list = got.candidates[i];
    ASSERT_EQ(list.size(), 3u);
    const int32_t id = got.ids[i];
    EXPECT_EQ(list[0].first.toStdString(), tokenizer_.decode(std::span<const int32_t>(&id, 1)));
    EXPECT_GE(list[0].second, list[1].second);
    EXPECT_GE(list[1].second, list[2].second);
    EXPECT_GT(list[2].second, 0);
  }
}

TEST_F(GenerationControllerTest, ChatRendersTheHistoryInTheChatFormat) {
  GenerationController controller(nullptr, "cpu", 2);
  Received got(controller);
  ASSERT_TRUE(controller.load_model_dir(QString::fromStdString(model_dir_.string())));
  GenerationRequest request = greedy_request(6);
  request.chat = true;
  request.history = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello!"}};
  ASSERT_TRUE(controller.generate("How are you?", request));
  ASSERT_TRUE(wait_for([&] { return !got.reason.isEmpty() || !got.failures.isEmpty(); }));
  ASSERT_TRUE(got.failures.isEmpty()) << got.failures.join("; ").toStdString();
  const std::vector<ChatMessage> messages = {
      {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello!"}, {"user", "How are you?"}};
  const GeneratedSequence expected = reference_greedy(encode_chat(tokenizer_, messages, true).ids, 6);
  EXPECT_EQ(got.ids, std::vector<int>(expected.tokens.begin(), expected.tokens.end()));
  EXPECT_EQ(got.text.toStdString(), expected.text);
}

TEST_F(GenerationControllerTest, StopEndsTheGenerationAfterOneToken) {
  GenerationController controller(nullptr, "cpu", 2);
  Received got(controller);
  // The worker waits for this snapshot, so the stop below is in place before the first token is sampled.
  std::promise<ModelSnapshot> snapshot;
  ASSERT_TRUE(controller.load_snapshot(snapshot.get_future()));
  ASSERT_TRUE(controller.generate("Once upon a time", greedy_request(100)));
  EXPECT_FALSE(controller.generate("again", greedy_request(5)));  // one generation at a time
  ASSERT_EQ(got.failures.size(), 1);
  EXPECT_TRUE(got.failures[0].contains("already running"));
  controller.stop();
  snapshot.set_value(take_snapshot(model_, 7));
  ASSERT_TRUE(wait_for([&] { return !got.reason.isEmpty(); }));
  EXPECT_TRUE(got.description.contains("step 7")) << got.description.toStdString();
  EXPECT_EQ(got.reason, "stopped");
  EXPECT_EQ(got.ids.size(), 1u);
  EXPECT_EQ(got.ids[0], reference_greedy(tokenizer_.encode("Once upon a time"), 1).tokens[0]);
  EXPECT_FALSE(controller.generating());
}

TEST_F(GenerationControllerTest, BadDirectoriesAndMissingModelsAreReportedInPlainWords) {
  GenerationController controller(nullptr, "cpu", 1);
  Received got(controller);
  EXPECT_FALSE(controller.generate("Hello", greedy_request(3)));
  ASSERT_EQ(got.failures.size(), 1);
  EXPECT_EQ(got.failures[0], "No model is loaded");
  EXPECT_FALSE(controller.compute_attention("Hello"));
  EXPECT_EQ(got.failures.size(), 2);

  EXPECT_FALSE(controller.load_model_dir("/nonexistent/minimind-model"));
  EXPECT_TRUE(got.failures.back().contains("/nonexistent/minimind-model")) << got.failures.back().toStdString();

  const QString empty_dir = QString::fromStdString((dir_ / "empty").string());
  std::filesystem::create_directories(dir_ / "empty");
  EXPECT_FALSE(controller.load_model_dir(empty_dir));
  EXPECT_EQ(got.failures.back(), empty_dir + " is not a model directory: config.json missing");

  // A corrupt model file gets past the quick checks and fails on the worker, naming the directory.
  std::filesystem::create_directories(dir_ / "corrupt");
  std::filesystem::copy_file(model_dir_ / "config.json", dir_ / "corrupt" / "config.json");
  { std::ofstream(dir_ / "corrupt" / "model.safetensors") << "not safetensors"; }
  const QString corrupt = QString::fromStdString((dir_ / "corrupt").string());
  const qsizetype before = got.failures.size();
  EXPECT_TRUE(controller.load_model_dir(corrupt));
  ASSERT_TRUE(wait_for([&] { return got.failures.size() > before; }));
  EXPECT_TRUE(got.failures.back().startsWith("Could not load the model in " + corrupt)) << got.failures.back().toStdString();
  EXPECT_FALSE(controller.has_model());
  EXPECT_TRUE(got.description.isEmpty());
}

TEST_F(GenerationControllerTest, AttentionMapsEqualTheCoreProbe) {
  GenerationController controller(nullptr, "cpu", 2);
  Received got(controller);
  ASSERT_TRUE(controller.load_model_dir(QString::fromStdString(model_dir_.string())));
  const QString prompt = "The quick brown fox jumps";
  ASSERT_TRUE(controller.compute_attention(prompt));
  ASSERT_TRUE(wait_for([&] { return got.maps.has_value() || !got.failures.isEmpty(); }));
  ASSERT_TRUE(got.failures.isEmpty()) << got.failures.join("; ").toStdString();
  const AttentionMaps expected = probe_attention(model_, tokenizer_, prompt.toStdString());
  EXPECT_EQ(got.maps->num_layers, 2);
  EXPECT_EQ(got.maps->num_heads, 4);
  EXPECT_EQ(got.maps->tokens, expected.tokens);
  ASSERT_EQ(got.maps->weights.size(), expected.weights.size());
  for (size_t i = 0; i < expected.weights.size(); ++i) EXPECT_NEAR(got.maps->weights[i], expected.weights[i], 1e-6f);
}

// "Use the model being trained": the training controller's snapshot, taken while a real tiny run trains,
// loads into the generation controller without blocking the GUI thread; the probe prompt set on the training
// controller is the one its attention maps show. With no run going the load fails in plain words.
// Generation follows the device the lab trains on: a loaded model moves with its weights, and a device that
// cannot be used is refused in plain words while the model stays usable where it was.
TEST_F(GenerationControllerTest, FollowsTheChosenDeviceWithTheLoadedModel) {
  GenerationController controller(nullptr, "cpu", 2);
  Received got(controller);
  ASSERT_TRUE(controller.load_model_dir(QString::fromStdString(model_dir_.string())));
  ASSERT_TRUE(wait_for([&] { return !got.description.isEmpty() || !got.failures.isEmpty(); }));
  EXPECT_TRUE(got.description.contains(" on cpu: ")) << got.description.toStdString();

  // To the same kind of device again: the model is rebuilt from its weights and generates as before.
  got.description.clear();
  ASSERT_TRUE(controller.set_device("cpu"));
  ASSERT_TRUE(wait_for([&] { return !got.description.isEmpty() || !got.failures.isEmpty(); }));
  ASSERT_TRUE(got.failures.isEmpty()) << got.failures.join("; ").toStdString();
  EXPECT_EQ(controller.device(), "cpu");
  const QString prompt = "Once upon a time there was";
  ASSERT_TRUE(controller.generate(prompt, greedy_request(8)));
  ASSERT_TRUE(wait_for([&] { return !got.reason.isEmpty() || !got.failures.isEmpty(); }));
  const GeneratedSequence expected = reference_greedy(tokenizer_.encode(prompt.toStdString()), 8);
  EXPECT_EQ(std::vector<int32_t>(got.ids.begin(), got.ids.end()), expected.tokens);

  // A device name the lab does not know, and a GPU where there may be none.
  got.failures.clear();
  ASSERT_TRUE(controller.set_device("tpu"));
  ASSERT_TRUE(wait_for([&] { return !got.failures.isEmpty(); }));
  EXPECT_TRUE(got.failures[0].startsWith("Could not move generation to tpu: "))
      << got.failures[0].toStdString();
  EXPECT_EQ(controller.device(), "cpu");
  got.failures.clear();
  got.description.clear();
  ASSERT_TRUE(controller.set_device("cuda"));
  ASSERT_TRUE(wait_for([&] { return !got.failures.isEmpty() || !got.description.isEmpty(); }));
  if (cuda_unavailable_reason(0).empty()) {
    ASSERT_TRUE(got.failures.isEmpty()) << got.failures.join("; ").toStdString();
    EXPECT_TRUE(got.description.contains(" on cuda: ")) << got.description.toStdString();
  } else {
    ASSERT_EQ(got.failures.size(), 1);
    EXPECT_TRUE(got.failures[0].startsWith("Could not move generation to cuda: "))
        << got.failures[0].toStdString();
    EXPECT_EQ(controller.device(), "cpu");
  }

  // Wherever it now is, the model generates.
  got.reason.clear();
  got.ids.clear();
  got.failures.clear();
  ASSERT_TRUE(controller.generate(prompt, greedy_request(8)));
  ASSERT_TRUE(wait_for([&] { return !got.reason.isEmpty() || !got.failures.isEmpty(); }));
  ASSERT_TRUE(got.failures.isEmpty()) << got.failures.join("; ").toStdString();
  EXPECT_EQ(got.ids.size(), 8u);
}

TEST_F(GenerationControllerTest, UsesTheModelBeingTrained) {
  const TrainConfig config = endless_run("cpu");
  TrainingController training;
  GenerationController controller(nullptr, "cpu", 1);
  Received got(controller);
  std::vector<std::vector<std::string>> probe_tokens;
  QObject::connect(&training, &TrainingController::attention_maps,
                   [&](const AttentionMaps& maps) { probe_tokens.push_back(maps.tokens); });

  // No run yet: the snapshot fails and says why.
  ASSERT_TRUE(controller.load_snapshot(training.snapshot()));
  ASSERT_TRUE(wait_for([&] { return !got.failures.isEmpty(); }));
  EXPECT_TRUE(got.failures[0].contains("no training run is going")) << got.failures[0].toStdString();

  training.set_probe_prompt("A small probe");
  ASSERT_TRUE(training.start(config, tiny_config()));
  ASSERT_TRUE(wait_for([&] { return !probe_tokens.empty(); }));
  ASSERT_TRUE(controller.load_snapshot(training.snapshot()));
  ASSERT_TRUE(wait_for([&] { return !got.description.isEmpty() || got.failures.size() > 1; }));
  training.stop();
  ASSERT_TRUE(wait_for([&] { return !training.running(); }));
  ASSERT_EQ(got.failures.size(), 1) << got.failures.join("; ").toStdString();
  EXPECT_TRUE(got.description.startsWith("The model being trained, at step ")) << got.description.toStdString();
  std::vector<std::string> expected;
  for (int32_t id : tokenizer_.encode("A small probe")) expected.push_back(tokenizer_.decode(std::span<const int32_t>(&id, 1)));
  EXPECT_EQ(probe_tokens.front(), expected);

  ASSERT_TRUE(controller.generate("Once", greedy_request(3)));
  ASSERT_TRUE(wait_for([&] { return !got.reason.isEmpty() || got.failures.size() > 1; }));
  EXPECT_EQ(got.failures.size(), 1);
  EXPECT_FALSE(got.ids.empty());
}

// The lab on a GPU: a run trains there, and generation from its snapshot follows it there.
TEST_F(GenerationControllerTest, OnAGpuTheRunAndGenerationFromItsSnapshotStayThere) {
  const std::string why_not = cuda_unavailable_reason(0);
  if (!why_not.empty()) GTEST_SKIP() << "no GPU to test on: " << why_not;
  TrainingController training;
  std::vector<StepMetrics> steps;
  QObject::connect(&training, &TrainingController::step_metrics,
                   [&](const StepMetrics& m) { steps.push_back(m); });
  ASSERT_TRUE(training.start(endless_run("cuda"), tiny_config()));
  ASSERT_TRUE(wait_for([&] { return steps.size() >= 3; }));

  GenerationController controller(nullptr, "cuda", 1);
  Received got(controller);
  ASSERT_TRUE(controller.load_snapshot(training.snapshot()));
  ASSERT_TRUE(wait_for([&] { return !got.description.isEmpty() || !got.failures.isEmpty(); }));
  ASSERT_TRUE(got.failures.isEmpty()) << got.failures.join("; ").toStdString();
  EXPECT_TRUE(got.description.contains(" on cuda: ")) << got.description.toStdString();
  ASSERT_TRUE(controller.generate("Once upon a time", greedy_request(8)));
  ASSERT_TRUE(wait_for([&] { return !got.reason.isEmpty() || !got.failures.isEmpty(); }));
  ASSERT_TRUE(got.failures.isEmpty()) << got.failures.join("; ").toStdString();
  EXPECT_EQ(got.ids.size(), 8u);

  training.stop();
  ASSERT_TRUE(wait_for([&] { return !training.running(); }));
  for (const StepMetrics& m : steps) EXPECT_TRUE(std::isfinite(m.loss)) << "step " << m.step;
}

}  // namespace
}  // namespace minimind
