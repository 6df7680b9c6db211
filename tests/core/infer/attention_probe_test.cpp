// The attention probe against the model itself: its maps have the shape [layer][head][T][T], every row is a
// distribution with zeros above the diagonal (causal), they are exactly forward_cached's probabilities, and
// they equal, up to rounding, the probabilities of the same tokens decoded one at a time (each query at its
// offset into the cache).
#include "infer/attention_probe.h"

#include <gtest/gtest.h>

#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "config/resources.h"
#include "support/default_tokenizer_model.h"

namespace minimind {
namespace {

ModelConfig probe_config() { return small_model_for_default_tokenizer(64); }

class AttentionProbeTest : public ::testing::Test {
 protected:
  AttentionProbeTest()
      : backend_(2), tokenizer_(Tokenizer::load(default_tokenizer_dir() / "tokenizer.json")),
        model_(probe_config(), backend_) {
    model_.init_weights(11);
  }
  CpuBackend backend_;
  Tokenizer tokenizer_;
  MiniMindModel model_;
};

constexpr const char* kPrompt = "The quick brown fox jumps over the lazy dog";

TEST_F(AttentionProbeTest, ShapeRowsAndCausality) {
  const AttentionMaps maps = probe_attention(model_, tokenizer_, kPrompt, 64, 17);
  const std::vector<int32_t> ids = tokenizer_.encode(kPrompt);
  const int64_t t = static_cast<int64_t>(ids.size());
  ASSERT_GT(t, 3);
  EXPECT_EQ(maps.step, 17);
  EXPECT_EQ(maps.num_layers, 2);
  EXPECT_EQ(maps.num_heads, 4);
  ASSERT_EQ(static_cast<int64_t>(maps.tokens.size()), t);
  for (int64_t i = 0; i < t; ++i)
    EXPECT_EQ(maps.tokens[static_cast<size_t>(i)], tokenizer_.decode(std::span<const int32_t>(&ids[static_cast<size_t>(i)], 1)));
  ASSERT_EQ(static_cast<int64_t>(maps.weights.size()), 2 * 4 * t * t);
  for (int64_t layer_head = 0; layer_head < 2 * 4; ++layer_head)
    for (int64_t q = 0; q < t; ++q) {
      double sum = 0;
      for (int64_t k = 0; k < t; ++k) {
        const float w = maps.weights[static_cast<size_t>((layer_head * t + q) * t + k)];
        if (k > q) {
          EXPECT_EQ(w, 0.0f) << "query " << q << " sees the later key " << k;
        }
        EXPECT_GE(w, 0.0f);
        sum += w;
      }
      EXPECT_NEAR(sum, 1.0, 1e-5);
    }
}

TEST_F(AttentionProbeTest, CutsToMaxTokens) {
  const AttentionMaps maps = probe_attention(model_, tokenizer_, kPrompt, 3);
  ASSERT_EQ(maps.tokens.size(), 3u);
  EXPECT_EQ(maps.weights.size(), 2u * 4 * 3 * 3);
  EXPECT_TRUE(probe_attention(model_, tokenizer_, "").weights.empty());
}

TEST_F(AttentionProbeTest, EqualsForwardCachedAndTokenByTokenDecoding) {
  const AttentionMaps maps = probe_attention(model_, tokenizer_, kPrompt);
  const std::vector<int32_t> ids = tokenizer_.encode(kPrompt);
  const int64_t t = static_cast<int64_t>(ids.size());

  Tensor input = Tensor::empty({1, t}, DType::i32);
  std::copy(ids.begin(), ids.end(), input.data<int32_t>());
  KvCache cache = model_.make_cache(1, t);
  std::vector<Tensor> cached;
  model_.forward_cached(input, cache, {}, &cached);
  ASSERT_EQ(cached.size(), 2u);
  size_t index = 0;
  for (const Tensor& layer : cached)
    for (float w : layer.span<float>()) ASSERT_EQ(maps.weights[index++], w);

  // The same tokens fed one position at a time (each query at its offset into the cache): row t of the maps
  // is the one-query map of position t.
  KvCache incremental = model_.make_cache(1, t);
  for (int64_t position = 0; position < t; ++position) {
    Tensor token = Tensor::empty({1, 1}, DType::i32);
    token.data<int32_t>()[0] = ids[static_cast<size_t>(position)];
    std::vector<Tensor> step;
    model_.forward_cached(token, incremental, {}, &step);
    ASSERT_EQ(step.size(), 2u);
    for (int64_t layer = 0; layer < 2; ++layer) {
      ASSERT_EQ(step[static_cast<size_t>(layer)].shape(), (Shape{1, 4, 1, position + 1}));
      const std::span<const float> row = step[static_cast<size_t>(layer)].span<float>();
      for (int64_t head = 0; head < 4; ++head)
        for (int64_t key = 0; key <= position; ++key)
          EXPECT_NEAR(maps.weights[static_cast<size_t>(((layer * 4 + head) * t + position) * t + key)],
                      row[static_cast<size_t>(head * (position + 1) + key)], 1e-5)
              << "layer " << layer << " head " << head << " query " << position << " key " << key;
    }
  }
}

}  // namespace
}  // namespace minimind
