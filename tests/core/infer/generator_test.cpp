// Generation against independent references: greedy decoding with the KV cache against argmax of the full
// causal forward (no cache) rerun on the growing sequence, a left-padded batch against each prompt alone
// (all in f64, where the two differ by rounding only, far below the gaps between logits), streamed pieces
// against Tokenizer::decode of the generated ids, and stop strings against the text cut at their first
// occurrence.
#include "config/resources.h"
#include "infer/generator.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "backend/cpu/cpu_backend.h"
#include "infer/chat_session.h"
#include "tokenizer/chat_format.h"
#include "text/utf8.h"

namespace minimind {
namespace {

ModelConfig test_config() {
  ModelConfig c;
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.vocab_size = 6400;  // the default tokenizer's
  c.intermediate_size = 64;
  c.max_position_embeddings = 96;
  c.rope_theta = 10000.0;
  return c;
}

class GeneratorTest : public ::testing::Test {
 protected:
  GeneratorTest()
      : backend_(2),
        tokenizer_(Tokenizer::load(default_tokenizer_dir() / "tokenizer.json")),
        model_(test_config(), backend_, Precision::f64()),
        generator_(model_, tokenizer_) {
    model_.init_weights(5);
  }

  // Greedy continuation by the full forward over the whole sequence each step.
  std::vector<int32_t> greedy_without_cache(std::vector<int32_t> ids, int64_t new_tokens) {
    std::vector<int32_t> generated;
    for (int64_t step = 0; step < new_tokens; ++step) {
      const int64_t t = static_cast<int64_t>(ids.size());
      Batch batch{Tensor::empty({1, t}, DType::i32), Tensor::zeros({1, t}, DType::i32), {}, {}};
      std::copy(ids.begin(), ids.end(), batch.input_ids.data<int32_t>());
      model_.forward(batch, false);
      const Tensor logits = backend_.to_host(model_.logits());
      const double* last = logits.data<double>() + (t - 1) * model_.config().vocab_size;
      const int32_t next =
          argmax(std::span<const double>(last, static_cast<size_t>(model_.config().vocab_size)));
      generated.push_back(next);
      ids.push_back(next);
    }
    return generated;
  }

  static GenerationOptions greedy(int64_t max_new_tokens) {
    GenerationOptions options;
    options.sampling.greedy = true;
    options.max_new_tokens = max_new_tokens;
    options.stop_ids = std::vector<int32_t>{};  // run to the budget
    return options;
  }

  CpuBackend backend_;
  Tokenizer tokenizer_;
  MiniMindModel model_;
  Generator generator_;
};

TEST_F(GeneratorTest, GreedyEqualsArgmaxOfTheFullForward) {
  const std::vector<int32_t> prompt = tokenizer_.encode("The moon rose over the quiet lake");
  const GenerationResult result = generator_.generate({prompt}, greedy(12));
  ASSERT_EQ(result.sequences.size(), 1u);
  EXPECT_EQ(result.sequences[0].tokens, greedy_without_cache(prompt, 12));
  EXPECT_EQ(result.sequences[0].stop_reason, StopReason::max_new_tokens);
  EXPECT_EQ(result.decode_steps, 11);
}

TEST_F(GeneratorTest, LeftPaddedBatchEqualsEachPromptAlone) {
  const std::vector<std::vector<int32_t>> prompts = {
      tokenizer_.encode("Hi"), tokenizer_.encode("Once upon a time, in a small village")};
  ASSERT_NE(prompts[0].size(), prompts[1].size());
  const GenerationResult together = generator_.generate(prompts, greedy(10));
  for (size_t i = 0; i < prompts.size(); ++i) {
    const GenerationResult alone = generator_.generate({prompts[i]}, greedy(10));
    EXPECT_EQ(together.sequences[i].tokens, alone.sequences[0].tokens) << "prompt " << i;
    EXPECT_EQ(together.sequences[i].text, alone.sequences[0].text) << "prompt " << i;
  }
}

TEST_F(GeneratorTest, StreamedPiecesAreValidUtf8AndConcatenateToTheDecodedText) {
  // Sampling at a high temperature reaches byte tokens that split characters.
  GenerationOptions options;
  options.sampling.temperature = 3.0;
  options.sampling.seed = 11;
  options.max_new_tokens = 80;
  const std::vector<std::vector<int32_t>> prompts = {tokenizer_.encode("床前明月光"),
                                                     tokenizer_.encode("hello")};
  std::vector<std::string> streamed(2);
  std::vector<int64_t> calls(2, 0);
  const GenerationResult result =
      generator_.generate(prompts, options, [&](int64_t i, int32_t, std::string_view piece) {
        EXPECT_TRUE(utf8::is_valid(piece));
        streamed[static_cast<size_t>(i)] += piece;
        ++calls[static_cast<size_t>(i)];
        return true;
      });
  const std::vector<int32_t> stops = generator_.default_stop_ids();
  int64_t split_characters = 0;  // tokens whose bytes are not whole characters: the held-back path ran
  for (const GeneratedSequence& s : result.sequences)
    for (int32_t id : s.tokens) split_characters += utf8::is_valid(tokenizer_.token_bytes(id)) ? 0 : 1;
  EXPECT_GT(split_characters, 0);
  for (size_t i = 0; i < 2; ++i) {
    const GeneratedSequence& s = result.sequences[i];
    EXPECT_EQ(calls[i], static_cast<int64_t>(s.tokens.size()));
    std::vector<int32_t> content = s.tokens;
    if (s.stop_reason == StopReason::stop_id) {
      EXPECT_NE(std::find(stops.begin(), stops.end(), content.back()), stops.end());
      content.pop_back();
    }
    EXPECT_EQ(streamed[i], tokenizer_.decode(content));
    EXPECT_EQ(s.text, streamed[i]);
  }
}

TEST_F(GeneratorTest, StopStringEndsTheTextBeforeItsFirstOccurrence) {
  const std::vector<int32_t> prompt = tokenizer_.encode("A story about");
  const GenerationResult full = generator_.generate({prompt}, greedy(30));
  const GeneratedSequence& whole = full.sequences[0];
  // A stop string taken from a generated token in the middle, as text.
  std::string stop;
  for (size_t k = 8; k < whole.tokens.size() && stop.empty(); ++k) {
    const std::string bytes(tokenizer_.token_bytes(whole.tokens[k]));
    if (!bytes.empty() && utf8::is_valid(bytes)) stop = bytes;
  }
  ASSERT_FALSE(stop.empty());
  const size_t cut = whole.text.find(stop);
  ASSERT_NE(cut, std::string::npos);

  GenerationOptions options = greedy(30);
  options.stop_strings = {"never appears \x01", stop};
  std::string streamed;
  const GenerationResult stopped =
      generator_.generate({prompt}, options, [&](int64_t, int32_t, std::string_view piece) {
        streamed += piece;
        return true;
      });
  const GeneratedSequence& s = stopped.sequences[0];
  EXPECT_EQ(s.stop_reason, StopReason::stop_string);
  EXPECT_EQ(s.text, whole.text.substr(0, cut));
  EXPECT_EQ(streamed, s.text);
  EXPECT_LT(s.tokens.size(), whole.tokens.size() + 1);
  EXPECT_TRUE(std::equal(s.tokens.begin(), s.tokens.end(), whole.tokens.begin()));
}

TEST_F(GeneratorTest, StopIdEndsTheSequenceAndIsLeftOutOfTheText) {
  const std::vector<int32_t> prompt = tokenizer_.encode("Stop here");
  const GenerationResult full = generator_.generate({prompt}, greedy(6));
  GenerationOptions options = greedy(6);
  options.stop_ids = std::vector<int32_t>{full.sequences[0].tokens[2]};
  const GeneratedSequence s = generator_.generate({prompt}, options).sequences[0];
  const size_t first = static_cast<size_t>(
      std::find(full.sequences[0].tokens.begin(), full.sequences[0].tokens.end(), options.stop_ids->front()) -
      full.sequences[0].tokens.begin());
  EXPECT_EQ(s.stop_reason, StopReason::stop_id);
  EXPECT_EQ(s.tokens.size(), first + 1);
  EXPECT_EQ(s.text, tokenizer_.decode(std::span<const int32_t>(s.tokens.data(), first)));
}

TEST_F(GeneratorTest, SeededSamplingIsReproducible) {
  GenerationOptions options;
  options.sampling.temperature = 1.2;
  options.sampling.top_k = 50;
  options.sampling.top_p = 0.9;
  options.sampling.repetition_penalty = 1.1;
  options.sampling.seed = 3;
  options.max_new_tokens = 15;
  options.stop_ids = std::vector<int32_t>{};
  const std::vector<int32_t> prompt = tokenizer_.encode("Seeds");
  const auto first = generator_.generate({prompt}, options).sequences[0].tokens;
  EXPECT_EQ(generator_.generate({prompt}, options).sequences[0].tokens, first);
  options.sampling.seed = 4;
  EXPECT_NE(generator_.generate({prompt}, options).sequences[0].tokens, first);
}

// Without candidates the backend samples (Backend::sample_tokens); with them the host Sampler does, stage by
// stage. The two are separate code over the same filters and draws: they must give the same tokens.
TEST_F(GeneratorTest, SamplingOnTheBackendDrawsWhatTheHostSamplerDraws) {
  const std::vector<std::vector<int32_t>> prompts = {
      tokenizer_.encode("Hi"), tokenizer_.encode("Once upon a time, in a small village")};
  std::vector<SamplingOptions> settings(4);
  settings[0].greedy = true;
  settings[0].repetition_penalty = 1.3;
  settings[1].temperature = 1.5;
  settings[2].temperature = 0.8;
  settings[2].top_k = 20;
  settings[2].top_p = 0.9;
  settings[2].repetition_penalty = 1.2;
  settings[3].top_p = 0.5;
  for (size_t k = 0; k < settings.size(); ++k) {
    GenerationOptions options;
    options.sampling = settings[k];
    options.sampling.seed = 11 + k;
    options.max_new_tokens = 20;
    options.stop_ids = std::vector<int32_t>{};
    const GenerationResult on_backend = generator_.generate(prompts, options);
    options.sampling.candidates = 2;
    const GenerationResult on_host = generator_.generate(prompts, options);
    for (size_t i = 0; i < prompts.size(); ++i) {
      EXPECT_EQ(on_backend.sequences[i].tokens, on_host.sequences[i].tokens)
          << "setting " << k << ", prompt " << i;
      EXPECT_EQ(on_host.sequences[i].candidates.size(), on_host.sequences[i].tokens.size());
    }
  }
}

TEST_F(GeneratorTest, StopsAtTheContextAndOnTheCallbackAndReportsCandidates) {
  std::vector<int32_t> long_prompt(90, 300);
  const GeneratedSequence full = generator_.generate({long_prompt}, greedy(20)).sequences[0];
  EXPECT_EQ(full.stop_reason, StopReason::context_full);
  EXPECT_EQ(full.tokens.size(), 96u - 90u + 1u);  // the last token is never fed back

  GenerationOptions options = greedy(20);
  options.sampling.candidates = 4;
  const GeneratedSequence stopped =
      generator_.generate({{5, 6, 7}}, options, [](int64_t, int32_t, std::string_view) { return false; })
          .sequences[0];
  EXPECT_EQ(stopped.stop_reason, StopReason::callback);
  EXPECT_EQ(stopped.tokens.size(), 1u);
  ASSERT_EQ(stopped.candidates.size(), 1u);
  ASSERT_FALSE(stopped.candidates[0].empty());
  EXPECT_EQ(stopped.candidates[0][0].stage, "logits");
  EXPECT_EQ(stopped.candidates[0][0].top.size(), 4u);
  EXPECT_EQ(stopped.candidates[0][0].top[0].id, stopped.tokens[0]);
}

TEST_F(GeneratorTest, TheCandidatesCallbackStreamsWhatTheResultCollects) {
  GenerationOptions options;
  options.sampling.temperature = 0.9;
  options.sampling.top_k = 20;
  options.sampling.candidates = 4;
  options.sampling.seed = 3;
  options.max_new_tokens = 8;
  options.stop_ids = std::vector<int32_t>{};
  std::vector<int32_t> streamed_ids;
  std::vector<std::vector<StageCandidates>> streamed;
  const GenerationResult result = generator_.generate(
      {tokenizer_.encode("Once upon a time")}, options,
      [&](int64_t, int32_t id, std::string_view, const std::vector<StageCandidates>& candidates) {
        streamed_ids.push_back(id);
        streamed.push_back(candidates);
        return true;
      });
  const GeneratedSequence& s = result.sequences[0];
  EXPECT_EQ(streamed_ids, s.tokens);
  ASSERT_EQ(streamed.size(), s.candidates.size());
  for (size_t i = 0; i < streamed.size(); ++i) {
    ASSERT_EQ(streamed[i].size(), 3u);  // logits, temperature, top_k
    EXPECT_EQ(streamed[i].back().stage, "top_k");
    ASSERT_EQ(streamed[i].back().top.size(), 4u);
    for (size_t stage = 0; stage < streamed[i].size(); ++stage)
      for (size_t c = 0; c < 4; ++c) {
        EXPECT_EQ(streamed[i][stage].top[c].id, s.candidates[i][stage].top[c].id);
        EXPECT_EQ(streamed[i][stage].top[c].probability, s.candidates[i][stage].top[c].probability);
      }
  }
}

TEST_F(GeneratorTest, RefusesBadPrompts) {
  EXPECT_THROW(generator_.generate({}, greedy(3)), std::invalid_argument);
  EXPECT_THROW(generator_.generate({{}}, greedy(3)), std::invalid_argument);
  EXPECT_THROW(generator_.generate({{6400}}, greedy(3)), std::invalid_argument);
  EXPECT_THROW(generator_.generate({std::vector<int32_t>(97, 1)}, greedy(3)), std::invalid_argument);
  GenerationOptions bad = greedy(3);
  bad.stop_strings = {""};
  EXPECT_THROW(generator_.generate({{1}}, bad), std::invalid_argument);
}

TEST_F(GeneratorTest, ChatSessionKeepsTheHistoryInTheChatFormat) {
  ChatSession chat(generator_, "You are terse.");
  GenerationOptions options = greedy(5);
  const GeneratedSequence reply = chat.send("Hello!", options);
  ASSERT_EQ(chat.history().size(), 3u);
  EXPECT_EQ(chat.history()[1], (ChatMessage{"user", "Hello!"}));
  EXPECT_EQ(chat.history()[2], (ChatMessage{"assistant", reply.text}));
  chat.send("Again", options);
  EXPECT_EQ(chat.history().size(), 5u);
  EXPECT_EQ(chat.prompt_ids(), encode_chat(tokenizer_, chat.history(), true).ids);
  EXPECT_EQ(tokenizer_.decode(chat.prompt_ids()).substr(0, 30), "<|im_start|>system\nYou are ter");
  chat.reset();
  ASSERT_EQ(chat.history().size(), 1u);
  EXPECT_EQ(chat.history()[0].role, "system");
}

}  // namespace
}  // namespace minimind
