// Sampling filters against hand-made logits whose kept token sets are worked out by hand from the rules of
// Hugging Face's RepetitionPenaltyLogitsProcessor, TopKLogitsWarper and TopPLogitsWarper; the seeded draw
// against the probabilities it samples from (a chi-square bound far from the statistic's typical values).
#include "infer/sampling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>

namespace minimind {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

template <typename T>
std::vector<int32_t> kept(const std::vector<T>& logits) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < logits.size(); ++i)
    if (logits[i] != -std::numeric_limits<T>::infinity()) ids.push_back(static_cast<int32_t>(i));
  return ids;
}

// Logits whose softmax is exactly `probabilities` (up to rounding of log and exp).
std::vector<double> logits_of(const std::vector<double>& probabilities) {
  std::vector<double> logits;
  for (double p : probabilities) logits.push_back(std::log(p));
  return logits;
}

TEST(SamplingFilters, RepetitionPenaltyDividesPositiveAndMultipliesNegativeOncePerId) {
  std::vector<double> logits = {2.0, -2.0, 0.0, 3.0};
  const std::vector<int32_t> context = {0, 1, 1, 1, 2};
  apply_repetition_penalty(std::span<double>(logits), context, 2.0);
  EXPECT_EQ(logits, (std::vector<double>{1.0, -4.0, 0.0, 3.0}));
  std::vector<float> as_float = {2.0f, -2.0f};
  apply_repetition_penalty(std::span<float>(as_float), std::vector<int32_t>{0, 1}, 0.5);  // < 1 rewards
  EXPECT_EQ(as_float, (std::vector<float>{4.0f, -1.0f}));
  EXPECT_THROW(apply_repetition_penalty(std::span<double>(logits), std::vector<int32_t>{4}, 2.0),
               std::invalid_argument);
}

TEST(SamplingFilters, TemperatureDivides) {
  std::vector<double> logits = {1.0, -3.0, 0.5};
  apply_temperature(std::span<double>(logits), 0.5);
  EXPECT_EQ(logits, (std::vector<double>{2.0, -6.0, 1.0}));
  EXPECT_THROW(apply_temperature(std::span<double>(logits), 0.0), std::invalid_argument);
}

TEST(SamplingFilters, TopKKeepsTheKLargestAndEveryTieOfTheKth) {
  std::vector<double> logits = {0.1, 5.0, 3.0, -1.0, 4.0};
  apply_top_k(std::span<double>(logits), 2);
  EXPECT_EQ(kept(logits), (std::vector<int32_t>{1, 4}));

  std::vector<float> tied = {1.0f, 3.0f, 2.0f, 2.0f, 2.0f, 0.0f};
  apply_top_k(std::span<float>(tied), 2);  // the 2nd largest is 2.0, held by three ids: all stay
  EXPECT_EQ(kept(tied), (std::vector<int32_t>{1, 2, 3, 4}));

  std::vector<double> all = {1.0, 2.0, 3.0};
  apply_top_k(std::span<double>(all), 0);
  EXPECT_EQ(kept(all).size(), 3u);
  apply_top_k(std::span<double>(all), 7);
  EXPECT_EQ(kept(all).size(), 3u);
  apply_top_k(std::span<double>(all), 1);
  EXPECT_EQ(kept(all), (std::vector<int32_t>{2}));
}

TEST(SamplingFilters, TopPKeepsTheSmallestSetReachingTopP) {
  // Probabilities 0.5, 0.25, 0.15, 0.1 (ids 2, 0, 3, 1).
  const std::vector<double> base = logits_of({0.25, 0.1, 0.5, 0.15});
  auto keep = [&](double top_p) {
    std::vector<double> logits = base;
    apply_top_p(std::span<double>(logits), top_p);
    return kept(logits);
  };
  EXPECT_EQ(keep(0.3), (std::vector<int32_t>{2}));        // 0.5 >= 0.3
  EXPECT_EQ(keep(0.6), (std::vector<int32_t>{0, 2}));     // 0.75 >= 0.6
  EXPECT_EQ(keep(0.8), (std::vector<int32_t>{0, 2, 3}));  // 0.9 >= 0.8
  EXPECT_EQ(keep(0.95), (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(keep(1.0), (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(keep(1e-9), (std::vector<int32_t>{2}));  // never fewer than one token
}

TEST(SamplingFilters, TopPAtAnExactBoundaryAndWithTies) {
  // Four equal logits: probabilities exactly 0.25, cumulative sums (ascending) 0.25, 0.5, 0.75, 1. With
  // top_p = 0.5 the sums <= 0.5 go: two tokens stay, which reach exactly 0.5. Among equals the lower ids sort
  // first in the ascending order and are removed first.
  std::vector<double> equal(4, 1.0);
  apply_top_p(std::span<double>(equal), 0.5);
  EXPECT_EQ(kept(equal), (std::vector<int32_t>{2, 3}));
  std::vector<float> pair = {0.0f, 0.0f};
  apply_top_p(std::span<float>(pair), 0.5);
  EXPECT_EQ(kept(pair), (std::vector<int32_t>{1}));
  // Tokens already filtered out (-inf) stay out and do not count.
  std::vector<double> after_top_k = {-kInf, 1.0, -kInf, 1.0};
  apply_top_p(std::span<double>(after_top_k), 0.6);
  EXPECT_EQ(kept(after_top_k), (std::vector<int32_t>{1, 3}));
}

TEST(SamplingFilters, ArgmaxTakesTheFirstOfEqualMaxima) {
  EXPECT_EQ(argmax(std::span<const double>(std::vector<double>{1.0, 7.0, 7.0, -2.0})), 1);
  EXPECT_EQ(
      argmax(std::span<const float>(std::vector<float>{-std::numeric_limits<float>::infinity(), -5.0f})), 1);
}

TEST(SamplingFilters, CandidatesAreTheMostLikelyInOrder) {
  const std::vector<double> logits = logits_of({0.25, 0.1, 0.5, 0.15});
  const std::vector<Candidate> top = top_candidates(std::span<const double>(logits), 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].id, 2);
  EXPECT_NEAR(top[0].probability, 0.5, 1e-12);
  EXPECT_EQ(top[1].id, 0);
  EXPECT_EQ(top[2].id, 3);
  EXPECT_NEAR(top[2].probability, 0.15, 1e-12);
}

TEST(Sampler, GreedyIsArgmaxAfterTheRepetitionPenalty) {
  const std::vector<float> logits = {1.0f, 4.0f, 3.0f};
  SamplingOptions options;
  options.greedy = true;
  EXPECT_EQ(Sampler(options).next(std::span<const float>(logits), {}), 1);
  options.repetition_penalty = 2.0;  // 4 / 2 = 2 < 3
  EXPECT_EQ(Sampler(options).next(std::span<const float>(logits), std::vector<int32_t>{1}), 2);
  SamplingOptions zero_temperature;
  zero_temperature.temperature = 0;
  EXPECT_EQ(Sampler(zero_temperature).next(std::span<const float>(logits), {}), 1);
}

TEST(Sampler, ReportsCandidatesAfterEachStage) {
  SamplingOptions options;
  options.temperature = 0.5;
  options.top_k = 2;
  options.top_p = 0.9;
  options.repetition_penalty = 1.5;
  options.candidates = 3;
  const std::vector<double> logits = logits_of({0.25, 0.1, 0.5, 0.15});
  std::vector<StageCandidates> stages;
  Sampler(options).next(std::span<const double>(logits), std::vector<int32_t>{2}, &stages);
  ASSERT_EQ(stages.size(), 5u);
  EXPECT_EQ(stages[0].stage, "logits");
  EXPECT_EQ(stages[1].stage, "repetition_penalty");
  EXPECT_EQ(stages[2].stage, "temperature");
  EXPECT_EQ(stages[3].stage, "top_k");
  EXPECT_EQ(stages[3].top.size(), 2u);  // top_k left two tokens
  EXPECT_EQ(stages[4].stage, "top_p");
  double total = 0;
  for (const Candidate& c : stages[3].top) total += c.probability;
  EXPECT_NEAR(total, 1.0, 1e-12);
}

TEST(Sampler, SameSeedSameTokensAndStreamsDiffer) {
  SamplingOptions options;
  options.seed = 42;
  const std::vector<double> logits(50, 0.0);  // uniform: any bias in the draw shows
  auto draw = [&](uint64_t stream) {
    Sampler sampler(options, stream);
    std::vector<int32_t> ids;
    for (int i = 0; i < 20; ++i) ids.push_back(sampler.next(std::span<const double>(logits), {}));
    return ids;
  };
  EXPECT_EQ(draw(0), draw(0));
  EXPECT_NE(draw(0), draw(1));
}

TEST(Sampler, EmpiricalFrequenciesMatchTheFilteredProbabilities) {
  // Temperature 2 flattens log-probabilities (0.4, 0.3, 0.2, 0.06, 0.04) to p^(1/2) normalised; top_k = 4
  // drops the last. 40000 draws; the chi-square statistic with 3 degrees of freedom exceeds 25 with
  // probability ~1.6e-5.
  const std::vector<double> logits = logits_of({0.4, 0.3, 0.2, 0.06, 0.04});
  SamplingOptions options;
  options.temperature = 2.0;
  options.top_k = 4;
  options.seed = 7;
  Sampler sampler(options);
  std::vector<double> expected;
  double total = 0;
  for (double p : {0.4, 0.3, 0.2, 0.06}) total += std::sqrt(p);
  for (double p : {0.4, 0.3, 0.2, 0.06}) expected.push_back(std::sqrt(p) / total);
  const int draws = 40000;
  std::vector<int> counts(5, 0);
  for (int i = 0; i < draws; ++i)
    ++counts[static_cast<size_t>(sampler.next(std::span<const double>(logits), {}))];
  EXPECT_EQ(counts[4], 0);
  double chi_square = 0;
  for (size_t i = 0; i < 4; ++i) {
    const double e = expected[i] * draws;
    chi_square += (counts[i] - e) * (counts[i] - e) / e;
  }
  EXPECT_LT(chi_square, 25.0);
}

TEST(Sampler, RejectsOptionsOutOfRange) {
  auto make = [](auto change) {
    SamplingOptions options;
    change(options);
    return Sampler(options);
  };
  EXPECT_THROW(make([](SamplingOptions& o) { o.temperature = -1; }), std::invalid_argument);
  EXPECT_THROW(make([](SamplingOptions& o) { o.top_p = 0; }), std::invalid_argument);
  EXPECT_THROW(make([](SamplingOptions& o) { o.top_p = 1.5; }), std::invalid_argument);
  EXPECT_THROW(make([](SamplingOptions& o) { o.top_k = -2; }), std::invalid_argument);
  EXPECT_THROW(make([](SamplingOptions& o) { o.repetition_penalty = 0; }), std::invalid_argument);
}

}  // namespace
}  // namespace minimind
