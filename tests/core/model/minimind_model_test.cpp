// The whole model: gradients against central finite differences in double precision (dense and MoE, GQA and
// multi-head, YaRN on and off, padding mask, dropout), KV-cache decoding against the full forward, f32
// against f64, the host's range checks, the loss totals left on the device, and the planned bytes by role.
#include "model/minimind_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "backend/cpu/cpu_backend.h"
#include "support/gradient_check.h"

namespace minimind {
namespace {

ModelConfig small_config() {
  ModelConfig c;
  c.hidden_size = 16;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.vocab_size = 23;
  c.intermediate_size = 24;
  c.max_position_embeddings = 64;
  c.rope_theta = 10000.0;
  return c;
}

Batch random_batch(int64_t b, int64_t t, int64_t vocab, std::mt19937_64& rng, DType mask_dtype = DType::f64) {
  Batch batch{testing::random_ids({b, t}, static_cast<int32_t>(vocab), rng),
              testing::random_ids({b, t}, static_cast<int32_t>(vocab), rng), Tensor::empty({b, t}, mask_dtype), {}};
  for (int64_t i = 0; i < b * t; ++i) {
    const double keep = (i % 5 == 3) ? 0.0 : 1.0;  // some positions unscored
    if (mask_dtype == DType::f64)
      batch.loss_mask.data<double>()[i] = keep;
    else
      batch.loss_mask.data<float>()[i] = static_cast<float>(keep);
  }
  return batch;
}

// Random weights large enough that attention and routing are far from uniform.
void randomize(MiniMindModel& model, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-0.5, 0.5);
  Tensor buffer = model.parameters().buffer();
  for (const ParameterEntry& e : model.layout().entries()) {
    double* p = buffer.data<double>() + e.offset;
    for (int64_t i = 0; i < e.numel(); ++i) p[i] = e.shape.size() == 1 ? 1.0 + 0.3 * uniform(rng) : uniform(rng);
  }
}

Tensor clone_host(Backend& backend, const Tensor& t) {
  Tensor copy = Tensor::empty(t.shape(), t.dtype());
  backend.copy(t, copy);
  return copy;
}

// Compares the analytic gradient of every parameter tensor with finite differences at up to `per_tensor`
// random elements of it.
void expect_model_gradients(const ModelConfig& config, const Batch& batch, bool training, uint64_t dropout_seed,
                            int per_tensor = 12) {
  CpuBackend backend(1);
  MiniMindModel model(config, backend, Precision::f64());
  randomize(model, 11);
  backend.zero(model.gradients().buffer());
  model.forward(batch, training, dropout_seed);
  model.backward();
  const Tensor analytic = model.gradients().buffer();

  Tensor params = model.parameters().buffer();
  double* p = params.data<double>();
  std::mt19937_64 rng(5);
  int failures = 0, checked = 0;
  for (const ParameterEntry& e : model.layout().entries()) {
    std::vector<int64_t> indices(static_cast<size_t>(e.numel()));
    for (int64_t i = 0; i < e.numel(); ++i) indices[static_cast<size_t>(i)] = e.offset + i;
    std::shuffle(indices.begin(), indices.end(), rng);
    indices.resize(std::min<size_t>(indices.size(), static_cast<size_t>(per_tensor)));
    for (int64_t index : indices) {
      const double saved = p[index], h = 1e-5;
      p[index] = saved + h;
      const double plus = model.forward(batch, training, dropout_seed).loss;
      p[index] = saved - h;
      const double minus = model.forward(batch, training, dropout_seed).loss;
      p[index] = saved;
      const double numeric = (plus - minus) / (2 * h);
      const double a = analytic.data<double>()[index];
      ++checked;
      if (std::abs(a - numeric) > 1e-7 + 1e-5 * std::max(std::abs(a), std::abs(numeric)) && ++failures <= 8)
        ADD_FAILURE() << e.name << "[" << index - e.offset << "]: analytic " << a << " vs finite difference " << numeric;
    }
  }
  EXPECT_EQ(failures, 0) << failures << " of " << checked << " gradient entries differ";
}

TEST(MiniMindModelGradients, DenseGroupedQueryAttention) {
  std::mt19937_64 rng(1);
  expect_model_gradients(small_config(), random_batch(2, 6, 23, rng), true, 0);
}

TEST(MiniMindModelGradients, DenseMultiHeadAttention) {
  ModelConfig c = small_config();
  c.num_key_value_heads = 4;
  std::mt19937_64 rng(2);
  expect_model_gradients(c, random_batch(2, 5, 23, rng), true, 0);
}

TEST(MiniMindModelGradients, YarnScaledRope) {
  ModelConfig c = small_config();
  c.inference_rope_scaling = true;
  c.rope_scaling.original_max_position_embeddings = 16;
  ASSERT_TRUE(c.yarn_active());
  std::mt19937_64 rng(3);
  expect_model_gradients(c, random_batch(1, 9, 23, rng), true, 0);
}

TEST(MiniMindModelGradients, PaddingMask) {
  std::mt19937_64 rng(4);
  Batch batch = random_batch(2, 6, 23, rng);
  batch.attention_mask = Tensor::empty({2, 6}, DType::i32);
  const int32_t mask[] = {0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1};  // a padded prefix, and a hole
  std::copy(mask, mask + 12, batch.attention_mask.data<int32_t>());
  // Padded positions are not scored, as in training: a query whose visible keys are all padded sees scores
  // near -1e9, where finite differences measure rounding rather than the derivative.
  for (int i = 0; i < 12; ++i)
    if (mask[i] == 0) batch.loss_mask.data<double>()[i] = 0.0;
  expect_model_gradients(small_config(), batch, true, 0);
}

TEST(MiniMindModelGradients, DropoutWithFixedMasks) {
  ModelConfig c = small_config();
  c.dropout = 0.2;
  std::mt19937_64 rng(5);
  expect_model_gradients(c, random_batch(2, 5, 23, rng), true, 99);
}

TEST(MiniMindModelGradients, MixtureOfExpertsSequenceAux) {
  ModelConfig c = small_config();
  c.use_moe = true;
  c.n_routed_experts = 4;
  c.num_experts_per_tok = 2;
  c.n_shared_experts = 1;
  std::mt19937_64 rng(6);
  expect_model_gradients(c, random_batch(2, 6, 23, rng), true, 0);
}

TEST(MiniMindModelGradients, MixtureOfExpertsBatchAuxNoSharedUnnormalized) {
  ModelConfig c = small_config();
  c.use_moe = true;
  c.n_routed_experts = 3;
  c.num_experts_per_tok = 2;
  c.n_shared_experts = 0;
  c.seq_aux = false;
  c.norm_topk_prob = false;
  c.aux_loss_alpha = 0.5;
  std::mt19937_64 rng(7);
  expect_model_gradients(c, random_batch(2, 5, 23, rng), true, 0);
}

TEST(MiniMindModelGradients, MixtureOfExpertsWithDropoutAndTopOne) {
  ModelConfig c = small_config();
  c.use_moe = true;
  c.num_experts_per_tok = 1;
  c.n_shared_experts = 2;
  c.dropout = 0.1;
  std::mt19937_64 rng(8);
  expect_model_gradients(c, random_batch(2, 5, 23, rng), true, 3);
}

TEST(MiniMindModel, LossIsMaskedMeanCrossEntropyPlusAux) {
  ModelConfig c = small_config();
  c.use_moe = true;
  CpuBackend backend(1);
  MiniMindModel model(c, backend, Precision::f64());
  randomize(model, 3);
  std::mt19937_64 rng(9);
  const Batch batch = random_batch(2, 5, 23, rng);
  const LossTerms train = model.forward(batch, true);
  // Recompute the cross-entropy from the logits by hand.
  const Tensor logits = model.logits();
  double total = 0, count = 0;
  for (int64_t n = 0; n < 10; ++n) {
    const double* row = logits.data<double>() + n * 23;
    double max = row[0], sum = 0;
    for (int v = 0; v < 23; ++v) max = std::max(max, row[v]);
    for (int v = 0; v < 23; ++v) sum += std::exp(row[v] - max);
    const double mask = batch.loss_mask.data<double>()[n];
    total += mask * (max + std::log(sum) - row[batch.targets.data<int32_t>()[n]]);
    count += mask;
  }
  EXPECT_NEAR(train.cross_entropy, total / count, 1e-12);
  EXPECT_GT(train.aux_loss, 0.0);
  EXPECT_NEAR(train.loss, train.cross_entropy + train.aux_loss, 1e-12);
  // The seed computes the aux loss in training mode only.
  const LossTerms eval = model.forward(batch, false);
  EXPECT_EQ(eval.aux_loss, 0.0);
  EXPECT_NEAR(eval.cross_entropy, train.cross_entropy, 1e-12);
}

// Prefill then one token at a time must give the logits of the full causal forward, position by position.
void expect_cache_matches_full_forward(const ModelConfig& config, bool with_padding) {
  CpuBackend backend(2);
  MiniMindModel model(config, backend, Precision::f64());
  randomize(model, 21);
  std::mt19937_64 rng(12);
  const int64_t b = 2, t = 9, prefill = 4;
  Batch batch = random_batch(b, t, config.vocab_size, rng);
  if (with_padding) {
    batch.attention_mask = Tensor::empty({b, t}, DType::i32);
    for (int64_t i = 0; i < b * t; ++i) batch.attention_mask.data<int32_t>()[i] = (i == 0 || i == 1) ? 0 : 1;
  }
  model.forward(batch, false);
  const Tensor full = Tensor::empty({b, t, config.vocab_size}, DType::f64);
  Tensor full_copy = full;
  backend.copy(model.logits(), full_copy);

  KvCache cache = model.make_cache(b, t + 3);
  auto columns = [&](const Tensor& src, int64_t begin, int64_t end) {
    Tensor out = Tensor::empty({b, end - begin}, DType::i32);
    for (int64_t i = 0; i < b; ++i)
      for (int64_t j = begin; j < end; ++j)
        out.data<int32_t>()[i * (end - begin) + j - begin] = src.data<int32_t>()[i * t + j];
    return out;
  };
  double worst = 0;
  for (int64_t begin = 0; begin < t;) {
    const int64_t end = begin == 0 ? prefill : begin + 1;
    const Tensor step = model.forward_cached(columns(batch.input_ids, begin, end), cache,
                                             with_padding ? columns(batch.attention_mask, begin, end) : Tensor{});
    for (int64_t i = 0; i < b; ++i)
      for (int64_t j = begin; j < end; ++j)
        for (int64_t v = 0; v < config.vocab_size; ++v) {
          const double expected = full.data<double>()[(i * t + j) * config.vocab_size + v];
          const double got = step.data<double>()[(i * (end - begin) + j - begin) * config.vocab_size + v];
          worst = std::max(worst, std::abs(expected - got));
        }
    begin = end;
  }
  EXPECT_EQ(cache.length(), t);
  EXPECT_LT(worst, 1e-12);
}

TEST(MiniMindModelKvCache, MatchesFullForwardDense) { expect_cache_matches_full_forward(small_config(), false); }

TEST(MiniMindModelKvCache, MatchesFullForwardWithPadding) { expect_cache_matches_full_forward(small_config(), true); }

TEST(MiniMindModelKvCache, MatchesFullForwardMoeYarn) {
  ModelConfig c = small_config();
  c.use_moe = true;
  c.inference_rope_scaling = true;
  c.rope_scaling.original_max_position_embeddings = 4;
  expect_cache_matches_full_forward(c, false);
}

TEST(MiniMindModelKvCache, RefusesOverflowAndWrongBatch) {
  CpuBackend backend(1);
  MiniMindModel model(small_config(), backend);
  KvCache cache = model.make_cache(1, 4);
  Tensor ids = Tensor::zeros({1, 5}, DType::i32);
  EXPECT_THROW(model.forward_cached(ids, cache), std::invalid_argument);
  Tensor two = Tensor::zeros({2, 1}, DType::i32);
  EXPECT_THROW(model.forward_cached(two, cache), std::invalid_argument);
  EXPECT_THROW(model.make_cache(1, 65), std::invalid_argument);
}

TEST(MiniMindModel, Float32AgreesWithFloat64) {
  ModelConfig c = small_config();
  c.use_moe = true;
  CpuBackend backend(2);
  MiniMindModel exact(c, backend, Precision::f64()), single(c, backend, Precision::f32());
  randomize(exact, 4);
  const Tensor p64 = exact.parameters().buffer();
  for (int64_t i = 0; i < p64.numel(); ++i) single.parameters().buffer().data<float>()[i] = static_cast<float>(p64.data<double>()[i]);
  for (int64_t i = 0; i < p64.numel(); ++i) p64.data<double>()[i] = single.parameters().buffer().data<float>()[i];
  std::mt19937_64 rng(10);
  const Batch b64 = random_batch(2, 7, 23, rng);
  Batch b32 = b64;
  b32.loss_mask = Tensor::empty({2, 7}, DType::f32);
  for (int64_t i = 0; i < 14; ++i) b32.loss_mask.data<float>()[i] = static_cast<float>(b64.loss_mask.data<double>()[i]);
  backend.zero(exact.gradients().buffer());
  backend.zero(single.gradients().buffer());
  const double l64 = exact.forward(b64, true).loss, l32 = single.forward(b32, true).loss;
  EXPECT_NEAR(l32, l64, 1e-5 * std::abs(l64));
  exact.backward();
  single.backward();
  const Tensor g64 = exact.gradients().buffer(), g32 = single.gradients().buffer();
  double max_diff = 0, max_value = 0;
  for (int64_t i = 0; i < g64.numel(); ++i) {
    max_diff = std::max(max_diff, std::abs(g64.data<double>()[i] - g32.data<float>()[i]));
    max_value = std::max(max_value, std::abs(g64.data<double>()[i]));
  }
  EXPECT_LT(max_diff, 1e-5 * max_value);
}

TEST(MiniMindModel, ActivationEstimateIsWhatTheStepAllocates) {
  for (bool moe : {false, true}) {
    ModelConfig c = small_config();
    c.use_moe = moe;
    CpuBackend backend(1);
    MiniMindModel model(c, backend);
    EXPECT_EQ(model.allocated_activation_bytes(), 0);
    std::mt19937_64 rng(3);
    model.forward(random_batch(3, 7, 23, rng, DType::f32), true);
    EXPECT_EQ(model.allocated_activation_bytes(), MiniMindModel::activation_bytes(c, 3, 7, DType::f32));
  }
}

// Reference: a count by hand of the statistics of a dense training plan (rstd twice and the attention's
// log-sum-exp per layer; the final rstd, the loss mask, the log-sum-exp, the losses and their gradient).
// Solving the three plan sizes (bf16, f32, f64 compute) for the compute-dtype and statistic elements shows
// the statistics are f32 under bf16 compute, and f64 under f64.
TEST(MiniMindModel, ActivationBytesCountStatisticsInTheWideDtype) {
  const ModelConfig c = small_config();
  const int64_t b = 3, t = 7, n = b * t;
  const int64_t bf16 = MiniMindModel::activation_bytes(c, b, t, DType::bf16);
  const int64_t f32 = MiniMindModel::activation_bytes(c, b, t, DType::f32);
  const int64_t f64 = MiniMindModel::activation_bytes(c, b, t, DType::f64);
  // bytes = 2 or 4 or 8 per compute element + 4, 4 or 8 per statistic element + the same i32 and f64 rest.
  const int64_t compute_elements = (f32 - bf16) / 2;
  const int64_t statistic_elements = (f64 - f32) / 4 - compute_elements;
  EXPECT_EQ((f32 - bf16) % 2, 0);
  // The log-sum-exp [B, Hq, T] per layer, never the [B, Hq, T, T] probabilities.
  EXPECT_EQ(statistic_elements, c.num_hidden_layers * (2 * n + b * c.num_attention_heads * t) + 5 * n);
}

// The message of the std::invalid_argument `action` throws, or a failure.
template <typename Action>
std::string invalid_argument_message(Action action) {
  try {
    action();
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  ADD_FAILURE() << "no std::invalid_argument";
  return "";
}

TEST(MiniMindModel, RefusesBadBatches) {
  CpuBackend backend(1);
  MiniMindModel model(small_config(), backend);
  Batch batch{Tensor::zeros({1, 4}, DType::i32), Tensor::zeros({1, 3}, DType::i32), {}, {}};
  EXPECT_THROW(model.forward(batch, true), std::invalid_argument);
  batch.targets = Tensor::zeros({1, 4}, DType::i32);
  batch.input_ids.data<int32_t>()[2] = 23;  // outside the vocabulary
  EXPECT_THROW(model.forward(batch, true), std::invalid_argument);
  EXPECT_THROW(model.backward(), std::logic_error);
  Batch too_long{Tensor::zeros({1, 65}, DType::i32), Tensor::zeros({1, 65}, DType::i32), {}, {}};
  EXPECT_THROW(model.forward(too_long, true), std::invalid_argument);
}

// Ids and targets index tables on the device, where nothing checks them: the host refuses them first, per
// batch, naming the tensor, the row and column, and the value.
TEST(MiniMindModel, RangeChecksNameTheTokenOutsideTheVocabulary) {
  CpuBackend backend(1);
  MiniMindModel model(small_config(), backend);
  Batch batch{Tensor::zeros({2, 4}, DType::i32), Tensor::zeros({2, 4}, DType::i32), {}, {}};
  EXPECT_NO_THROW(model.forward(batch, false));
  batch.input_ids.data<int32_t>()[1 * 4 + 2] = 23;
  std::string message = invalid_argument_message([&] { model.forward_async(batch, true); });
  EXPECT_NE(message.find("input_ids[1, 2] = 23"), std::string::npos) << message;
  EXPECT_NE(message.find("[0, 23)"), std::string::npos) << message;
  batch.input_ids.data<int32_t>()[1 * 4 + 2] = 22;  // the last id is fine
  batch.targets.data<int32_t>()[3] = -1;
  message = invalid_argument_message([&] { model.forward(batch, false); });
  EXPECT_NE(message.find("targets[0, 3] = -1"), std::string::npos) << message;

  KvCache cache = model.make_cache(1, 8);
  Tensor ids = Tensor::zeros({1, 3}, DType::i32);
  ids.data<int32_t>()[2] = 100;
  message = invalid_argument_message([&] { model.forward_cached(ids, cache); });
  EXPECT_NE(message.find("input_ids[0, 2] = 100"), std::string::npos) << message;
  EXPECT_EQ(cache.length(), 0);  // refused before anything ran
}

TEST(MiniMindModel, RefusesAComputeDtypeTheBackendLacks) {
  CpuBackend backend(1);
  const std::string message = invalid_argument_message(
      [&] { MiniMindModel model(small_config(), backend, Precision::bf16_mixed()); });
  EXPECT_NE(message.find("bf16"), std::string::npos) << message;
  EXPECT_NE(message.find("cpu"), std::string::npos) << message;
}

// forward_async leaves the loss on the device: its totals are what forward reads back (reference: the same
// batch through forward), and the backward needs nothing else.
TEST(MiniMindModel, AsyncForwardKeepsTheLossTotalsOnTheDevice) {
  ModelConfig c = small_config();
  c.use_moe = true;
  CpuBackend backend(1);
  MiniMindModel model(c, backend, Precision::f64());
  randomize(model, 3);
  std::mt19937_64 rng(9);
  const Batch batch = random_batch(2, 5, 23, rng);
  const LossTerms terms = model.forward(batch, true);
  backend.zero(model.gradients().buffer());
  model.backward();
  const Tensor expected = clone_host(backend, model.gradients().buffer());

  model.forward_async(batch, true);
  const Tensor totals = backend.to_host(model.loss_totals());
  ASSERT_EQ(totals.shape(), Shape{kLossTotalsSize});
  EXPECT_EQ(totals.data<double>()[kTotalsScored], static_cast<double>(terms.scored_tokens));
  EXPECT_EQ(totals.data<double>()[kTotalsWeightedLoss] / totals.data<double>()[kTotalsScored],
            terms.cross_entropy);
  EXPECT_EQ(totals.data<double>()[kTotalsAuxLoss], terms.aux_loss);
  backend.zero(model.gradients().buffer());
  model.backward();
  EXPECT_EQ(backend.to_host(model.loss_totals()).data<double>()[kTotalsAuxLoss], terms.aux_loss);  // kept
  const Tensor again = model.gradients().buffer();
  for (int64_t i = 0; i < again.numel(); ++i)
    ASSERT_EQ(again.data<double>()[i], expected.data<double>()[i]) << i;
}

// The expert load is read back from the dispatch plan only when asked, for the last forward, cached or not.
// Reference: the full forward and a prefill of the same tokens route alike; each layer's shares sum to one.
TEST(MiniMindModel, ExpertLoadIsReadFromTheLastForward) {
  ModelConfig c = small_config();
  c.use_moe = true;
  CpuBackend backend(1);
  MiniMindModel model(c, backend, Precision::f64());
  EXPECT_TRUE(model.expert_load().fraction.empty());  // no forward yet
  randomize(model, 5);
  std::mt19937_64 rng(2);
  const Batch batch = random_batch(1, 6, 23, rng);
  model.forward(batch, false);
  const ExpertLoad full = model.expert_load();
  ASSERT_EQ(full.fraction.size(), static_cast<size_t>(c.num_hidden_layers));
  for (const std::vector<double>& layer : full.fraction) {
    ASSERT_EQ(layer.size(), static_cast<size_t>(c.n_routed_experts));
    double sum = 0;
    for (double share : layer) {
      EXPECT_GE(share, 0.0);
      sum += share;
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
  }
  KvCache cache = model.make_cache(1, 6);
  model.forward_cached(batch.input_ids, cache);
  EXPECT_EQ(model.expert_load().fraction, full.fraction);
}

}  // namespace
}  // namespace minimind
