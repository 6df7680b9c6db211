// attention on the CPU backend. References: a naive forward written here with explicit loops over a copy
// of k/v whose kv heads are repeated for their query heads (causal and padding masks, dropout by the
// documented hash index of the site's seed, the row log-sum-exp, the probabilities of the probe); finite
// differences in double for every input gradient of the backward that recomputes P from lse, padding and
// dropout included (directional ones beyond one query block); the KV-cache decode, query by query, against
// the full causal forward; f32 against f64.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "support/gradient_check.h"
#include "support/tensor_helpers.h"

namespace minimind {
namespace {

using testing::expect_gradient_near;
using testing::expect_rejects;
using testing::filled;
using testing::numeric_gradient;
using testing::random_tensor;
using testing::relative_error;
using testing::to_f32;
using testing::weighted_sum;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct AttentionShape {
  int64_t batch, seq, q_heads, kv_heads, head_dim;
  Shape q() const { return {batch, seq, q_heads, head_dim}; }
  Shape kv(int64_t rows) const { return {batch, rows, kv_heads, head_dim}; }
  Shape probs(int64_t keys) const { return {batch, q_heads, seq, keys}; }
  Shape lse() const { return {batch, q_heads, seq}; }
};

// The micro-step's seed as the model uploads it: i32 [2], low word first.
Tensor step_seed(uint32_t low, uint32_t high) {
  Tensor seed = Tensor::empty({2}, DType::i32);
  seed.data<int32_t>()[0] = static_cast<int32_t>(low);
  seed.data<int32_t>()[1] = static_cast<int32_t>(high);
  return seed;
}

AttentionOptions options_for(int64_t num_keys, int64_t head_dim, double dropout = 0.0,
                             int64_t query_offset = 0, uint64_t site = 3) {
  AttentionOptions options;
  options.num_keys = num_keys;
  options.query_offset = query_offset;
  options.scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  options.dropout = {dropout, step_seed(2024, 0x80000001u), site};
  return options;
}

// i32 [B, rows] of ones with the listed (b, s) keys set to 0 (padded).
Tensor key_mask_with_padding(int64_t batch, int64_t rows,
                             const std::vector<std::pair<int64_t, int64_t>>& padded) {
  Tensor mask = Tensor::empty({batch, rows}, DType::i32);
  for (int32_t& x : mask.span<int32_t>()) x = 1;
  for (const auto& [b, s] : padded) mask.data<int32_t>()[b * rows + s] = 0;
  return mask;
}

struct NaiveAttention {
  std::vector<double> out;    // [B, T, Hq, D]
  std::vector<double> probs;  // [B, Hq, T, S], zero where a key is not allowed
  std::vector<double> lse;    // [B, Hq, T]
};

// Plain loops in double over f64 inputs; kv heads are first copied out to one per query head.
NaiveAttention naive_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                               const AttentionOptions& options) {
  const int64_t B = q.dim(0), T = q.dim(1), Hq = q.dim(2), D = q.dim(3);
  const int64_t S_cap = k.dim(1), Hkv = k.dim(2), S = options.num_keys, group = Hq / Hkv;
  std::vector<double> k_repeated(B * S * Hq * D), v_repeated(B * S * Hq * D);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t h = 0; h < Hq; ++h)
        for (int64_t d = 0; d < D; ++d) {
          const int64_t source = ((b * S_cap + s) * Hkv + h / group) * D + d;
          k_repeated[((b * S + s) * Hq + h) * D + d] = k.data<double>()[source];
          v_repeated[((b * S + s) * Hq + h) * D + d] = v.data<double>()[source];
        }
  const double keep_scale = 1.0 / (1.0 - options.dropout.probability);
  const uint32_t threshold = dropout_threshold(options.dropout.probability);
  // The site's seed from the step's seed words, as dropout_mask.h documents it.
  uint64_t seed = 0;
  if (options.dropout.active()) {
    const int32_t* words = options.dropout.step_seed.data<int32_t>();
    const uint64_t step = (static_cast<uint64_t>(static_cast<uint32_t>(words[1])) << 32) |
                          static_cast<uint64_t>(static_cast<uint32_t>(words[0]));
    seed = dropout_site_seed(step, options.dropout.site);
  }

  NaiveAttention result{std::vector<double>(B * T * Hq * D, 0.0), std::vector<double>(B * Hq * T * S, 0.0),
                        std::vector<double>(B * Hq * T, 0.0)};
  std::vector<double> scores(S);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h)
      for (int64_t t = 0; t < T; ++t) {
        double max_score = -std::numeric_limits<double>::infinity();
        for (int64_t s = 0; s < S; ++s) {
          if (s > options.query_offset + t) continue;
          double dot = 0;
          for (int64_t d = 0; d < D; ++d)
            dot +=
                q.data<double>()[((b * T + t) * Hq + h) * D + d] * k_repeated[((b * S + s) * Hq + h) * D + d];
          scores[s] = options.scale * dot;
          if (key_mask.defined() && key_mask.data<int32_t>()[b * S_cap + s] == 0) scores[s] += -1e9;
          max_score = std::max(max_score, scores[s]);
        }
        double total = 0;
        for (int64_t s = 0; s < S && s <= options.query_offset + t; ++s)
          total += std::exp(scores[s] - max_score);
        result.lse[(b * Hq + h) * T + t] = max_score + std::log(total);
        for (int64_t s = 0; s < S && s <= options.query_offset + t; ++s) {
          const int64_t index = ((b * Hq + h) * T + t) * S + s;
          const double p = std::exp(scores[s] - max_score) / total;
          result.probs[index] = p;
          double dropped = p;
          if (options.dropout.active()) dropped = dropout_keep(seed, index, threshold) ? p * keep_scale : 0.0;
          for (int64_t d = 0; d < D; ++d)
            result.out[((b * T + t) * Hq + h) * D + d] +=
                dropped * v_repeated[((b * S + s) * Hq + h) * D + d];
        }
      }
  return result;
}

void expect_near(const Tensor& values, const std::vector<double>& expected, double tolerance,
                 const std::string& what) {
  ASSERT_EQ(values.numel(), static_cast<int64_t>(expected.size())) << what;
  for (int64_t i = 0; i < values.numel(); ++i)
    ASSERT_NEAR(values.data<double>()[i], expected[i], tolerance) << what << "[" << i << "]";
}

void check_against_naive(const AttentionShape& shape, int64_t cache_rows, const Tensor& key_mask,
                         const AttentionOptions& options, uint64_t seed) {
  CpuBackend backend;
  std::mt19937_64 rng(seed);
  Tensor q = random_tensor(shape.q(), DType::f64, rng);
  Tensor k = random_tensor(shape.kv(cache_rows), DType::f64, rng);
  Tensor v = random_tensor(shape.kv(cache_rows), DType::f64, rng);
  // Rows past num_keys must never be read.
  const int64_t row = shape.kv_heads * shape.head_dim;
  for (int64_t b = 0; b < shape.batch; ++b)
    for (int64_t i = options.num_keys * row; i < cache_rows * row; ++i) {
      k.data<double>()[b * cache_rows * row + i] = kNaN;
      v.data<double>()[b * cache_rows * row + i] = kNaN;
    }
  Tensor out = Tensor::empty(shape.q(), DType::f64), lse = filled(shape.lse(), kNaN);
  backend.attention_forward(q, k, v, key_mask, options, out, lse);
  const NaiveAttention expected = naive_attention(q, k, v, key_mask, options);
  expect_near(out, expected.out, 1e-12, "out");
  // lse sits near -1e9 for rows that see only padding, where doubles are 1.2e-7 apart.
  expect_near(lse, expected.lse, 1e-12 * 1e9, "lse");
  for (int64_t i = 0; i < lse.numel(); ++i) {
    if (std::abs(expected.lse[i]) < 1e3) {
      ASSERT_NEAR(lse.data<double>()[i], expected.lse[i], 1e-12) << i;
    }
  }

  // The probe's probabilities: every entry written, zero where the key is not visible.
  Tensor probs = filled(shape.probs(options.num_keys), kNaN);
  backend.attention_probs(q, k, v, key_mask, options, probs);
  expect_near(probs, expected.probs, 1e-12, "probs");

  // Inference: without lse, through per-thread scratch.
  Tensor out_without_lse = Tensor::empty(shape.q(), DType::f64), no_lse;
  backend.attention_forward(q, k, v, key_mask, options, out_without_lse, no_lse);
  expect_near(out_without_lse, expected.out, 1e-12, "out without lse");
}

TEST(AttentionForward, GroupedQueriesMatchNaiveReference) {
  const AttentionShape shape{2, 7, 4, 2, 8};
  check_against_naive(shape, 7, Tensor(), options_for(7, 8), 1);
}

TEST(AttentionForward, MultiHeadAndMultiQueryMatchNaiveReference) {
  check_against_naive({2, 6, 3, 3, 4}, 6, Tensor(), options_for(6, 4), 2);
  check_against_naive({1, 6, 4, 1, 4}, 6, Tensor(), options_for(6, 4), 3);
}

TEST(AttentionForward, SeveralQueryBlocksMatchNaiveReference) {
  // 150 queries span three blocks of the GEMM tiling; padding and dropout on.
  const Tensor mask = key_mask_with_padding(1, 150, {{0, 3}, {0, 70}, {0, 149}});
  check_against_naive({1, 150, 2, 1, 8}, 150, mask, options_for(150, 8, 0.2), 4);
}

TEST(AttentionForward, PaddingAndDropoutMatchNaiveReference) {
  // Batch 0 pads keys 0 and 1, so its queries 0 and 1 see only padded keys.
  const Tensor mask = key_mask_with_padding(2, 6, {{0, 0}, {0, 1}, {0, 4}, {1, 2}});
  check_against_naive({2, 6, 4, 2, 4}, 6, mask, options_for(6, 4), 5);
  check_against_naive({2, 6, 4, 2, 4}, 6, mask, options_for(6, 4, 0.3), 6);
}

TEST(AttentionForward, QueryOffsetWithCacheLargerThanKeysMatchesNaiveReference) {
  // Queries at positions 2..5 over 5 valid keys of an 8-row cache: the last query is limited by num_keys.
  const Tensor mask = key_mask_with_padding(2, 8, {{1, 0}, {0, 3}, {0, 6}});
  check_against_naive({2, 4, 4, 2, 4}, 8, mask, options_for(5, 4, 0.0, 2), 7);
  check_against_naive({2, 4, 4, 2, 4}, 8, mask, options_for(5, 4, 0.25, 2), 8);
}

TEST(AttentionForward, DropoutChangesOnlyTheOutputAndEachSiteDrawsItsOwnMask) {
  CpuBackend backend;
  std::mt19937_64 rng(9);
  const AttentionShape shape{1, 8, 2, 1, 4};
  Tensor q = random_tensor(shape.q(), DType::f64, rng), k = random_tensor(shape.kv(8), DType::f64, rng);
  Tensor v = random_tensor(shape.kv(8), DType::f64, rng);
  Tensor out_plain = Tensor::empty(shape.q(), DType::f64), lse_plain = Tensor::empty(shape.lse(), DType::f64);
  Tensor out_dropped = Tensor::empty(shape.q(), DType::f64),
         lse_dropped = Tensor::empty(shape.lse(), DType::f64);
  Tensor out_other_site = Tensor::empty(shape.q(), DType::f64), no_lse;
  backend.attention_forward(q, k, v, Tensor(), options_for(8, 4), out_plain, lse_plain);
  backend.attention_forward(q, k, v, Tensor(), options_for(8, 4, 0.5), out_dropped, lse_dropped);
  backend.attention_forward(q, k, v, Tensor(), options_for(8, 4, 0.5, 0, 4), out_other_site, no_lse);
  for (int64_t i = 0; i < lse_plain.numel(); ++i)
    EXPECT_EQ(lse_plain.data<double>()[i], lse_dropped.data<double>()[i]) << i;
  double difference = 0, site_difference = 0;
  for (int64_t i = 0; i < out_plain.numel(); ++i) {
    difference += std::abs(out_plain.data<double>()[i] - out_dropped.data<double>()[i]);
    site_difference += std::abs(out_other_site.data<double>()[i] - out_dropped.data<double>()[i]);
  }
  EXPECT_GT(difference, 1e-3);
  EXPECT_GT(site_difference, 1e-3);

  // The probe's probabilities are those before dropout, whatever the options say.
  Tensor probs_plain = Tensor::empty(shape.probs(8), DType::f64);
  Tensor probs_dropout_options = Tensor::empty(shape.probs(8), DType::f64);
  backend.attention_probs(q, k, v, Tensor(), options_for(8, 4), probs_plain);
  backend.attention_probs(q, k, v, Tensor(), options_for(8, 4, 0.5), probs_dropout_options);
  for (int64_t i = 0; i < probs_plain.numel(); ++i)
    EXPECT_EQ(probs_plain.data<double>()[i], probs_dropout_options.data<double>()[i]) << i;
}

TEST(AttentionForward, AllPaddedRowIsUniformInFloat32LikeTheReferenceModel) {
  // In f32, score - 1e9 rounds to -1e9 for small scores, so a query whose visible keys are all padded
  // averages their values; padded keys next to valid ones get exactly zero weight.
  CpuBackend backend;
  std::mt19937_64 rng(10);
  const AttentionShape shape{1, 4, 2, 1, 4};
  const Tensor mask = key_mask_with_padding(1, 4, {{0, 0}, {0, 1}});
  Tensor q = random_tensor(shape.q(), DType::f64, rng), k = random_tensor(shape.kv(4), DType::f64, rng);
  Tensor v = random_tensor(shape.kv(4), DType::f64, rng);
  Tensor out = Tensor::empty(shape.q(), DType::f32), lse = Tensor::empty(shape.lse(), DType::f32);
  Tensor probs = Tensor::empty(shape.probs(4), DType::f32);
  backend.attention_forward(to_f32(q), to_f32(k), to_f32(v), mask, options_for(4, 4), out, lse);
  backend.attention_probs(to_f32(q), to_f32(k), to_f32(v), mask, options_for(4, 4), probs);
  const NaiveAttention expected = naive_attention(q, k, v, mask, options_for(4, 4));
  const double* values = v.data<double>();
  for (int64_t h = 0; h < 2; ++h) {
    const float* p = probs.data<float>() + h * 16;
    EXPECT_EQ(p[0], 1.0f);
    EXPECT_FLOAT_EQ(p[4 + 0], 0.5f);
    EXPECT_FLOAT_EQ(p[4 + 1], 0.5f);
    for (int64_t d = 0; d < 4; ++d) {
      EXPECT_NEAR(out.data<float>()[(0 * 2 + h) * 4 + d], values[d], 1e-6);
      EXPECT_NEAR(out.data<float>()[(1 * 2 + h) * 4 + d], 0.5 * (values[d] + values[4 + d]), 1e-6);
    }
    for (int64_t t = 2; t < 4; ++t) {
      EXPECT_EQ(p[t * 4 + 0], 0.0f);
      EXPECT_EQ(p[t * 4 + 1], 0.0f);
      for (int64_t s = 2; s <= t; ++s) EXPECT_NEAR(p[t * 4 + s], expected.probs[h * 16 + t * 4 + s], 1e-6);
      EXPECT_NEAR(lse.data<float>()[h * 4 + t], expected.lse[h * 4 + t], 1e-6);
      for (int64_t d = 0; d < 4; ++d)
        EXPECT_NEAR(out.data<float>()[(t * 2 + h) * 4 + d], expected.out[(t * 2 + h) * 4 + d], 1e-6);
    }
  }
}

TEST(AttentionForward, KvCacheDecodeEqualsFullCausalForwardRowByRow) {
  CpuBackend backend;
  std::mt19937_64 rng(11);
  const AttentionShape shape{2, 9, 4, 2, 8};
  const int64_t cache_rows = 12, kv_row = shape.kv_heads * shape.head_dim,
                q_row = shape.q_heads * shape.head_dim;
  Tensor q = random_tensor(shape.q(), DType::f64, rng), k = random_tensor(shape.kv(9), DType::f64, rng);
  Tensor v = random_tensor(shape.kv(9), DType::f64, rng);
  const Tensor full_mask = key_mask_with_padding(2, 9, {{1, 2}, {0, 5}});
  const Tensor cache_mask = key_mask_with_padding(2, cache_rows, {{1, 2}, {0, 5}});
  Tensor full_out = Tensor::empty(shape.q(), DType::f64), full_lse = Tensor::empty(shape.lse(), DType::f64);
  Tensor full_probs = Tensor::empty(shape.probs(9), DType::f64);
  backend.attention_forward(q, k, v, full_mask, options_for(9, 8), full_out, full_lse);
  backend.attention_probs(q, k, v, full_mask, options_for(9, 8), full_probs);

  Tensor k_cache = filled(shape.kv(cache_rows), kNaN), v_cache = filled(shape.kv(cache_rows), kNaN);
  for (int64_t t = 0; t < shape.seq; ++t) {
    Tensor q_step = Tensor::empty({2, 1, 4, 8}, DType::f64),
           out_step = Tensor::empty({2, 1, 4, 8}, DType::f64);
    for (int64_t b = 0; b < 2; ++b) {
      for (int64_t i = 0; i < kv_row; ++i) {
        k_cache.data<double>()[(b * cache_rows + t) * kv_row + i] =
            k.data<double>()[(b * 9 + t) * kv_row + i];
        v_cache.data<double>()[(b * cache_rows + t) * kv_row + i] =
            v.data<double>()[(b * 9 + t) * kv_row + i];
      }
      for (int64_t i = 0; i < q_row; ++i)
        q_step.data<double>()[b * q_row + i] = q.data<double>()[(b * 9 + t) * q_row + i];
    }
    Tensor probs_step = Tensor::empty({2, 4, 1, t + 1}, DType::f64);
    Tensor lse_step = Tensor::empty({2, 4, 1}, DType::f64);
    const AttentionOptions options = options_for(t + 1, 8, 0.0, t);
    backend.attention_forward(q_step, k_cache, v_cache, cache_mask, options, out_step, lse_step);
    backend.attention_probs(q_step, k_cache, v_cache, cache_mask, options, probs_step);
    for (int64_t b = 0; b < 2; ++b) {
      for (int64_t i = 0; i < q_row; ++i)
        ASSERT_NEAR(out_step.data<double>()[b * q_row + i], full_out.data<double>()[(b * 9 + t) * q_row + i],
                    1e-12)
            << "query " << t << " batch " << b;
      for (int64_t h = 0; h < 4; ++h) {
        ASSERT_NEAR(lse_step.data<double>()[b * 4 + h], full_lse.data<double>()[(b * 4 + h) * 9 + t], 1e-12);
        for (int64_t s = 0; s <= t; ++s)
          ASSERT_NEAR(probs_step.data<double>()[(b * 4 + h) * (t + 1) + s],
                      full_probs.data<double>()[((b * 4 + h) * 9 + t) * 9 + s], 1e-12);
      }
    }
  }

  // A chunk of queries 4..8 over the filled cache: the continuation of a prefill.
  Tensor q_chunk = Tensor::empty({2, 5, 4, 8}, DType::f64),
         out_chunk = Tensor::empty({2, 5, 4, 8}, DType::f64);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 5 * q_row; ++i)
      q_chunk.data<double>()[b * 5 * q_row + i] = q.data<double>()[(b * 9 + 4) * q_row + i];
  Tensor no_lse;
  backend.attention_forward(q_chunk, k_cache, v_cache, cache_mask, options_for(9, 8, 0.0, 4), out_chunk,
                            no_lse);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 5 * q_row; ++i)
      ASSERT_NEAR(out_chunk.data<double>()[b * 5 * q_row + i],
                  full_out.data<double>()[(b * 9 + 4) * q_row + i], 1e-12);
}

// loss = w . out; d_out = w. Every input gradient against central differences; the backward gets the
// forward's out and lse and recomputes P (with the key mask and the dropout mask) from them.
void check_gradients(const AttentionShape& shape, const Tensor& key_mask, double dropout, uint64_t seed,
                     double step = 1e-6, double rtol = 1e-6, double atol = 1e-9) {
  CpuBackend backend;
  std::mt19937_64 rng(seed);
  Tensor q = random_tensor(shape.q(), DType::f64, rng);
  Tensor k = random_tensor(shape.kv(shape.seq), DType::f64, rng);
  Tensor v = random_tensor(shape.kv(shape.seq), DType::f64, rng);
  Tensor w = random_tensor(shape.q(), DType::f64, rng);
  const AttentionOptions options = options_for(shape.seq, shape.head_dim, dropout);
  Tensor out = Tensor::empty(shape.q(), DType::f64), lse = filled(shape.lse(), kNaN);
  auto loss = [&] {
    backend.attention_forward(q, k, v, key_mask, options, out, lse);
    return weighted_sum(out, w);
  };
  loss();
  // Overwritten, not accumulated.
  Tensor d_q = filled(q.shape(), 1e3), d_k = filled(k.shape(), 1e3), d_v = filled(v.shape(), 1e3);
  backend.attention_backward(w, q, k, v, out, lse, key_mask, options, d_q, d_k, d_v);
  expect_gradient_near(d_q, numeric_gradient(q, loss, step), "d_q", rtol, atol);
  expect_gradient_near(d_k, numeric_gradient(k, loss, step), "d_k", rtol, atol);
  expect_gradient_near(d_v, numeric_gradient(v, loss, step), "d_v", rtol, atol);
}

TEST(AttentionBackward, GroupedQueriesMatchFiniteDifferences) {
  check_gradients({2, 5, 4, 2, 4}, Tensor(), 0.0, 21);
}

TEST(AttentionBackward, MultiHeadMatchesFiniteDifferences) {
  check_gradients({2, 5, 2, 2, 4}, Tensor(), 0.0, 22);
}

TEST(AttentionBackward, PaddingMatchesFiniteDifferences) {
  check_gradients({2, 5, 4, 2, 4}, key_mask_with_padding(2, 5, {{0, 2}, {0, 3}, {1, 4}}), 0.0, 23);
}

TEST(AttentionBackward, AllPaddedRowsMatchFiniteDifferences) {
  // Queries 0 and 1 of batch 0 see only padded keys. Their scores sit at -1e9, where doubles are 1.2e-7
  // apart, so a small step would difference rounding noise: a step of 1e-2 balances that noise against
  // the truncation error, and the two agree to a few 1e-4 of the gradient.
  check_gradients({2, 5, 4, 2, 4}, key_mask_with_padding(2, 5, {{0, 0}, {0, 1}, {1, 3}}), 0.0, 24, 1e-2, 5e-4,
                  2e-6);
}

TEST(AttentionBackward, DropoutMatchesFiniteDifferences) {
  check_gradients({2, 5, 4, 2, 4}, Tensor(), 0.3, 25);
  check_gradients({1, 6, 2, 1, 4}, key_mask_with_padding(1, 6, {{0, 1}}), 0.5, 26);
}

TEST(AttentionBackward, HeadDim64WithPaddingAndDropoutMatchesFiniteDifferences) {
  // Scores sum 64 products: a step of 1e-5 keeps the differences' rounding (eps |L| / h) below 1e-10.
  check_gradients({1, 4, 4, 1, 64}, key_mask_with_padding(1, 4, {{0, 2}}), 0.25, 28, 1e-5, 1e-6, 1e-9);
}

TEST(AttentionBackward, SeveralQueryBlocksMatchDirectionalDerivatives) {
  // 130 queries span three blocks; a full finite-difference gradient would be slow, so the gradient is
  // checked along random directions: (L(x + h u) - L(x - h u)) / 2h = <grad, u>.
  CpuBackend backend;
  std::mt19937_64 rng(27);
  const AttentionShape shape{1, 130, 2, 1, 4};
  const Tensor mask = key_mask_with_padding(1, 130, {{0, 5}, {0, 64}, {0, 100}});
  const AttentionOptions options = options_for(130, 4, 0.2);
  Tensor q = random_tensor(shape.q(), DType::f64, rng), k = random_tensor(shape.kv(130), DType::f64, rng);
  Tensor v = random_tensor(shape.kv(130), DType::f64, rng), w = random_tensor(shape.q(), DType::f64, rng);
  Tensor out = Tensor::empty(shape.q(), DType::f64), lse = filled(shape.lse(), kNaN);
  auto loss = [&] {
    backend.attention_forward(q, k, v, mask, options, out, lse);
    return weighted_sum(out, w);
  };
  loss();
  Tensor d_q = filled(q.shape(), 1e3), d_k = filled(k.shape(), 1e3), d_v = filled(v.shape(), 1e3);
  backend.attention_backward(w, q, k, v, out, lse, mask, options, d_q, d_k, d_v);

  const std::pair<Tensor*, Tensor*> inputs[] = {{&q, &d_q}, {&k, &d_k}, {&v, &d_v}};
  const char* names[] = {"q", "k", "v"};
  for (int input = 0; input < 3; ++input) {
    auto [x, gradient] = inputs[input];
    for (int direction = 0; direction < 3; ++direction) {
      Tensor u = random_tensor(x->shape(), DType::f64, rng);
      const double h = 1e-5;
      std::vector<double> saved(x->span<double>().begin(), x->span<double>().end());
      for (int64_t i = 0; i < x->numel(); ++i) x->data<double>()[i] = saved[i] + h * u.data<double>()[i];
      const double plus = loss();
      for (int64_t i = 0; i < x->numel(); ++i) x->data<double>()[i] = saved[i] - h * u.data<double>()[i];
      const double minus = loss();
      std::copy(saved.begin(), saved.end(), x->data<double>());
      const double numeric = (plus - minus) / (2 * h);
      const double analytic = weighted_sum(*gradient, u);
      EXPECT_NEAR(analytic, numeric, 1e-6 * std::max(1.0, std::abs(numeric))) << "d_" << names[input];
    }
  }
}

TEST(Attention, Float32MatchesFloat64) {
  CpuBackend backend;
  std::mt19937_64 rng(31);
  const AttentionShape shape{2, 70, 4, 2, 16};  // two query blocks, the parallel path
  const Tensor mask = key_mask_with_padding(2, 70, {{0, 3}, {1, 40}});
  const AttentionOptions options = options_for(70, 16, 0.1);
  Tensor q = random_tensor(shape.q(), DType::f64, rng), k = random_tensor(shape.kv(70), DType::f64, rng);
  Tensor v = random_tensor(shape.kv(70), DType::f64, rng), d_out = random_tensor(shape.q(), DType::f64, rng);

  Tensor out64 = Tensor::empty(shape.q(), DType::f64), lse64 = Tensor::empty(shape.lse(), DType::f64);
  Tensor probs64 = Tensor::empty(shape.probs(70), DType::f64);
  Tensor d_q64 = Tensor::empty(q.shape(), DType::f64), d_k64 = Tensor::empty(k.shape(), DType::f64);
  Tensor d_v64 = Tensor::empty(v.shape(), DType::f64);
  backend.attention_forward(q, k, v, mask, options, out64, lse64);
  backend.attention_probs(q, k, v, mask, options, probs64);
  backend.attention_backward(d_out, q, k, v, out64, lse64, mask, options, d_q64, d_k64, d_v64);

  const Tensor q32 = to_f32(q), k32 = to_f32(k), v32 = to_f32(v);
  Tensor out32 = Tensor::empty(shape.q(), DType::f32), lse32 = Tensor::empty(shape.lse(), DType::f32);
  Tensor probs32 = Tensor::empty(shape.probs(70), DType::f32);
  Tensor d_q32 = Tensor::empty(q.shape(), DType::f32), d_k32 = Tensor::empty(k.shape(), DType::f32);
  Tensor d_v32 = Tensor::empty(v.shape(), DType::f32);
  backend.attention_forward(q32, k32, v32, mask, options, out32, lse32);
  backend.attention_probs(q32, k32, v32, mask, options, probs32);
  backend.attention_backward(to_f32(d_out), q32, k32, v32, out32, lse32, mask, options, d_q32, d_k32, d_v32);

  EXPECT_LT(relative_error(out32, out64), 1e-5);
  EXPECT_LT(relative_error(lse32, lse64), 1e-5);
  EXPECT_LT(relative_error(probs32, probs64), 1e-5);
  EXPECT_LT(relative_error(d_q32, d_q64), 1e-5);
  EXPECT_LT(relative_error(d_k32, d_k64), 1e-5);
  EXPECT_LT(relative_error(d_v32, d_v64), 1e-5);
}

TEST(Attention, RejectsBadArguments) {
  CpuBackend backend;
  auto zeros = [](const Shape& shape, DType dtype = DType::f64) { return Tensor::zeros(shape, dtype); };
  Tensor q = zeros({1, 3, 4, 2}), k = zeros({1, 5, 2, 2}), v = zeros({1, 5, 2, 2}), out = zeros({1, 3, 4, 2});
  Tensor lse = zeros({1, 4, 3}), probs = zeros({1, 4, 3, 4}), none;
  const AttentionOptions ok = options_for(4, 2, 0.0, 1);
  EXPECT_NO_THROW(backend.attention_forward(q, k, v, none, ok, out, lse));
  EXPECT_NO_THROW(backend.attention_forward(q, k, v, zeros({1, 5}, DType::i32), ok, out, none));
  EXPECT_NO_THROW(backend.attention_probs(q, k, v, none, ok, probs));

  Tensor q3 = zeros({1, 3, 3, 2}), out3 = zeros({1, 3, 3, 2});
  EXPECT_THROW(backend.attention_forward(q3, k, v, none, ok, out3, none), std::invalid_argument);  // 3 % 2
  Tensor v_other = zeros({1, 4, 2, 2});
  expect_rejects([&] { backend.attention_forward(q, k, v_other, none, ok, out, none); }, "v");
  Tensor k_other_dim = zeros({1, 5, 2, 4});
  expect_rejects([&] { backend.attention_forward(q, k_other_dim, k_other_dim, none, ok, out, none); }, "k");
  Tensor k_other_batch = zeros({2, 5, 2, 2});
  expect_rejects([&] { backend.attention_forward(q, k_other_batch, k_other_batch, none, ok, out, none); },
                 "k");
  Tensor out_wrong = zeros({1, 3, 4, 3});
  expect_rejects([&] { backend.attention_forward(q, k, v, none, ok, out_wrong, none); }, "out");
  Tensor lse_wrong = zeros({1, 4, 4});
  expect_rejects([&] { backend.attention_forward(q, k, v, none, ok, out, lse_wrong); }, "lse");
  Tensor lse_f32 = zeros({1, 4, 3}, DType::f32);
  expect_rejects([&] { backend.attention_forward(q, k, v, none, ok, out, lse_f32); }, "lse");
  Tensor probs_cache_wide = zeros({1, 4, 3, 5});  // S_cap instead of num_keys
  expect_rejects([&] { backend.attention_probs(q, k, v, none, ok, probs_cache_wide); }, "probs");
  expect_rejects(
      [&] {
        backend.attention_forward(q, k, v, zeros({1, 5}), ok, out, none);
      },
      "key_mask");  // f64
  expect_rejects(
      [&] {
        backend.attention_forward(q, k, v, zeros({1, 4}, DType::i32), ok, out, none);
      },
      "key_mask");
  EXPECT_THROW(backend.attention_forward(q, k, v, none, options_for(0, 2), out, none), std::invalid_argument);
  EXPECT_THROW(backend.attention_forward(q, k, v, none, options_for(6, 2), out, none), std::invalid_argument);
  EXPECT_THROW(backend.attention_forward(q, k, v, none, options_for(4, 2, 0.0, -1), out, none),
               std::invalid_argument);
  EXPECT_THROW(backend.attention_forward(q, k, v, none, options_for(4, 2, 1.0, 1), out, none),
               std::invalid_argument);
  AttentionOptions no_seed = options_for(4, 2, 0.1, 1);
  no_seed.dropout.step_seed = Tensor();
  expect_rejects([&] { backend.attention_forward(q, k, v, none, no_seed, out, none); },
                 "options.dropout.step_seed");
  Tensor k32 = zeros({1, 5, 2, 2}, DType::f32);
  expect_rejects([&] { backend.attention_forward(q, k32, v, none, ok, out, none); }, "k");
  Tensor q_i32 = zeros({1, 3, 4, 2}, DType::i32), k_i32 = zeros({1, 5, 2, 2}, DType::i32);
  expect_rejects([&] { backend.attention_forward(q_i32, k_i32, k_i32, none, ok, q_i32, none); }, "q");

  // The backward takes training shapes only, and needs the forward's out and lse.
  Tensor kt = zeros({1, 3, 2, 2}), vt = zeros({1, 3, 2, 2}), lse_t = zeros({1, 4, 3});
  Tensor d_q = zeros(q.shape()), d_k = zeros(kt.shape()), d_v = zeros(vt.shape());
  const AttentionOptions train = options_for(3, 2);
  EXPECT_NO_THROW(backend.attention_backward(out, q, kt, vt, out, lse_t, none, train, d_q, d_k, d_v));
  expect_rejects([&] { backend.attention_backward(out, q, kt, vt, out, none, none, train, d_q, d_k, d_v); },
                 "lse");
  expect_rejects([&] { backend.attention_backward(out, q, kt, vt, none, lse_t, none, train, d_q, d_k, d_v); },
                 "out");
  EXPECT_THROW(backend.attention_backward(out, q, kt, vt, out, lse_t, none, options_for(2, 2), d_q, d_k, d_v),
               std::invalid_argument);
  EXPECT_THROW(
      backend.attention_backward(out, q, kt, vt, out, lse_t, none, options_for(3, 2, 0.0, 1), d_q, d_k, d_v),
      std::invalid_argument);
  EXPECT_THROW(backend.attention_backward(out, q, k, v, out, lse, none, ok, d_q, k, v),
               std::invalid_argument);  // S_cap
  expect_rejects([&] { backend.attention_backward(out, q, kt, vt, out, lse_t, none, train, d_q, d_k, k); },
                 "d_v");
  expect_rejects(
      [&] { backend.attention_backward(out_wrong, q, kt, vt, out, lse_t, none, train, d_q, d_k, d_v); },
      "d_out");
  Tensor lse_t32 = zeros({1, 4, 3}, DType::f32);
  expect_rejects(
      [&] { backend.attention_backward(out, q, kt, vt, out, lse_t32, none, train, d_q, d_k, d_v); }, "lse");
  expect_rejects(
      [&] {
        backend.attention_backward(out, q, kt, vt, out, lse_t, zeros({1, 2}, DType::i32), train, d_q, d_k,
                                   d_v);
      },
      "key_mask");

  try {
    backend.attention_forward(q3, k, v, none, ok, out3, none);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("attention_forward"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace minimind
