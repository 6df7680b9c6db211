// The preflight's verdict against a linear estimate whose answers are worked out by hand (fixed bytes plus
// bytes per token), and against the real training estimate of the issue's example: the large preset at
// 64 x 4096, which the lab estimated at 3,858 GiB. Suggestions are checked against a search by brute force.
#include "config/memory_preflight.h"

#include <gtest/gtest.h>

#include "config/presets.h"
#include "model/memory_plan.h"

namespace minimind {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;
constexpr int64_t kGiB = int64_t{1} << 30;

// 1 GiB of weights plus 1 MiB per token: batch b at length l needs 1 GiB + b * l MiB.
MemoryRequest linear_request(int64_t batch, int64_t length, int64_t accumulation_steps = 0) {
  MemoryRequest request;
  request.workload = "training";
  request.batch = batch;
  request.length = length;
  request.accumulation_steps = accumulation_steps;
  request.batch_name = "--batch_size";
  request.length_name = "--max_seq_len";
  request.accumulation_name = "--accumulation_steps";
  request.estimate = [](int64_t b, int64_t l) {
    MemoryEstimate e;
    e.weights_bytes = kGiB;
    e.activations_bytes = b * l * kMiB;
    return e;
  };
  return request;
}

const MemoryMargin kNoMargin{0.0, 0};

TEST(MemoryPreflight, FitsWhenTheEstimateWithItsMarginFits) {
  const MemoryRequest request = linear_request(8, 128);  // 1 GiB + 1 GiB
  EXPECT_TRUE(check_memory(request, {2 * kGiB, "test"}, kNoMargin).fits);
  EXPECT_FALSE(check_memory(request, {2 * kGiB - 1, "test"}, kNoMargin).fits);
  // The default margin: 10% of the estimate and 256 MiB more.
  const MemoryMargin margin;
  EXPECT_EQ(margin.with_margin(2 * kGiB), 2 * kGiB + 2 * kGiB / 10 + 256 * kMiB);
  const MemoryVerdict verdict = check_memory(request, {2 * kGiB + 300 * kMiB, "test"});
  EXPECT_FALSE(verdict.fits) << "2 GiB plus the margin is 2.45 GiB";
  EXPECT_EQ(verdict.needed_bytes, margin.with_margin(2 * kGiB));
  EXPECT_TRUE(check_memory(request, {margin.with_margin(2 * kGiB), "test"}).fits);
  EXPECT_TRUE(check_memory(request, {2 * kGiB, "test"}, kNoMargin).message.empty());
}

TEST(MemoryPreflight, SuggestsTheLargestBatchAndTheAccumulationThatKeepsTheStep) {
  // 64 x 128 needs 1 GiB + 8 GiB; 3 GiB leaves 2 GiB for activations: 16 sequences of 128 tokens.
  const MemoryVerdict verdict =
      check_memory(linear_request(64, 128, 2), {3 * kGiB, "MemAvailable"}, kNoMargin);
  EXPECT_FALSE(verdict.fits);
  EXPECT_EQ(verdict.estimate.total(), 9 * kGiB);
  EXPECT_EQ(verdict.largest_batch, 16);
  EXPECT_EQ(verdict.accumulation_batch, 16);
  EXPECT_EQ(verdict.suggested_accumulation_steps, 8) << "16 x 8 = the 64 x 2 sequences per optimizer step";
  EXPECT_FALSE(verdict.largest_length.has_value());
  EXPECT_EQ(verdict.message,
            "training at --batch_size 64 x --max_seq_len 128 needs 9.0 GiB (activations 8.0 GiB, weights 1.0 "
            "GiB), 9.0 GiB with the safety margin (0% + 0 B), but 3.0 GiB is available (MemAvailable).\n"
            "The largest --batch_size that fits at --max_seq_len 128 is 16; --batch_size 16 with "
            "--accumulation_steps 8 to keep 128 sequences per optimizer step.");

  // 3 GiB + 5 MiB still fits 16 only; with 24 sequences per step the batch must divide 24: 12 x 2.
  const MemoryVerdict divisor =
      check_memory(linear_request(24, 128, 1), {3 * kGiB + 5 * kMiB, "x"}, kNoMargin);
  EXPECT_EQ(divisor.largest_batch, 16);
  EXPECT_EQ(divisor.accumulation_batch, 12);
  EXPECT_EQ(divisor.suggested_accumulation_steps, 2);
}

TEST(MemoryPreflight, SuggestsAShorterLengthWhenNoBatchFits) {
  // Batch 1 at 4096 tokens needs 1 GiB + 4 GiB; 2 GiB leaves 1024 tokens at batch 1.
  const MemoryVerdict verdict = check_memory(linear_request(8, 4096, 4), {2 * kGiB, "x"}, kNoMargin);
  EXPECT_FALSE(verdict.largest_batch.has_value());
  EXPECT_EQ(verdict.largest_length, 1024);
  EXPECT_EQ(verdict.accumulation_batch, 1);
  EXPECT_EQ(verdict.suggested_accumulation_steps, 32);
  EXPECT_NE(
      verdict.message.find("Not even --batch_size 1 fits at --max_seq_len 4096; the longest --max_seq_len "
                           "that fits at --batch_size 1 is 1024, with --accumulation_steps 32 to keep 32 "
                           "sequences per optimizer step."),
      std::string::npos)
      << verdict.message;
  // Without accumulation (evaluation) there is nothing to keep.
  const MemoryVerdict evaluation = check_memory(linear_request(8, 4096, 0), {2 * kGiB, "x"}, kNoMargin);
  EXPECT_FALSE(evaluation.suggested_accumulation_steps.has_value());
  EXPECT_EQ(evaluation.message.find("accumulation"), std::string::npos);
}

TEST(MemoryPreflight, SaysWhenTheModelItselfDoesNotFit) {
  const MemoryVerdict verdict = check_memory(linear_request(8, 128), {kGiB, "x"}, kNoMargin);
  EXPECT_FALSE(verdict.largest_batch || verdict.largest_length);
  EXPECT_NE(verdict.message.find("the model alone needs 1.0 GiB"), std::string::npos) << verdict.message;
  EXPECT_NE(verdict.message.find("choose a smaller model"), std::string::npos);
}

TEST(MemoryPreflight, SuggestionsMatchABruteForceSearch) {
  const MemoryMargin margin;
  for (const int64_t available_mib : {1400, 1700, 2500, 6000}) {
    const MemoryRequest request = linear_request(40, 100);
    const MemoryVerdict verdict = check_memory(request, {available_mib * kMiB, "x"}, margin);
    int64_t best_batch = 0;
    for (int64_t b = 1; b < 40; ++b)
      if (margin.with_margin(request.estimate(b, 100).total()) <= available_mib * kMiB) best_batch = b;
    if (verdict.fits) continue;
    if (best_batch > 0) {
      EXPECT_EQ(verdict.largest_batch, best_batch) << available_mib;
      continue;
    }
    int64_t best_length = 0;
    for (int64_t l = 1; l < 100; ++l)
      if (margin.with_margin(request.estimate(1, l).total()) <= available_mib * kMiB) best_length = l;
    if (best_length > 0)
      EXPECT_EQ(verdict.largest_length, best_length) << available_mib;
    else
      EXPECT_FALSE(verdict.largest_length.has_value()) << available_mib;
  }
}

TEST(MemoryPreflight, AdviceAfterAnOutOfMemoryComparesWithTheWholeDevice) {
  // 64 x 128 needs 9 GiB. On a GPU of 3 GiB it could never fit: the verdict against the whole GPU, with the
  // largest batch that fits there (16, as above).
  const AvailableMemory small_gpu{3 * kGiB, "cuda:0 total memory, NVIDIA L4"};
  const std::string advice = out_of_memory_advice(linear_request(64, 128, 2), small_gpu, kNoMargin);
  EXPECT_EQ(advice, check_memory(linear_request(64, 128, 2), small_gpu, kNoMargin).message);
  EXPECT_NE(advice.find("but 3.0 GiB is available (cuda:0 total memory, NVIDIA L4)"), std::string::npos)
      << advice;
  EXPECT_NE(advice.find("The largest --batch_size that fits at --max_seq_len 128 is 16"), std::string::npos)
      << advice;
  // On a GPU of 80 GiB it fits when nothing else holds memory: something else held the rest.
  const std::string elsewhere = out_of_memory_advice(
      linear_request(64, 128, 2), {80 * kGiB, "cuda:0 total memory, NVIDIA H100"}, kNoMargin);
  EXPECT_EQ(
      elsewhere,
      "training at --batch_size 64 x --max_seq_len 128 needs 9.0 GiB with the safety margin, which fits in "
      "80.0 GiB (cuda:0 total memory, NVIDIA H100) when nothing else holds any of it: other processes or "
      "models held the rest. Free that memory, or lower the --batch_size.");
}

TEST(MemoryPreflight, RefusesTheIssuesLargePresetExample) {
  // minimind train --preset large --batch_size 64 --max_seq_len 4096 in f32. The training plan keeps, per
  // token row, 3,154,656 bytes: per layer (24) the norms' inputs and outputs, q, k, v, the attention's output
  // and log-sum-exp, the FFN's gate_up and activation; besides, the residual stream of every layer, the
  // logits (32000) and the backward's scratch. 64 x 4096 rows make 770.2 GiB: no batch of 64 fits in 64 GiB.
  MemoryRequest request = training_request(preset("large"), 64, 4096, 1);
  const MemoryVerdict verdict = check_memory(request, {64 * kGiB, "MemAvailable"});
  EXPECT_FALSE(verdict.fits);
  EXPECT_EQ(verdict.estimate.activations_bytes, int64_t{64} * 4096 * 3154656 + 40);  // + the step's scalars
  EXPECT_NEAR(static_cast<double>(verdict.estimate.total()) / kGiB, 787, 1);
  ASSERT_TRUE(verdict.largest_batch.has_value()) << "one sequence of 4096 needs about 12 GiB";
  EXPECT_TRUE(check_memory(training_request(preset("large"), *verdict.largest_batch, 4096, 1),
                           {64 * kGiB, "MemAvailable"})
                  .fits);
  EXPECT_FALSE(check_memory(training_request(preset("large"), *verdict.largest_batch + 1, 4096, 1),
                            {64 * kGiB, "MemAvailable"})
                   .fits);
  EXPECT_NE(
      verdict.message.find("needs 787.0 GiB (activations 770.2 GiB, AdamW state 8.4 GiB, weights 4.2 GiB)"),
      std::string::npos)
      << verdict.message;
  EXPECT_NE(verdict.message.find("64.0 GiB is available (MemAvailable)"), std::string::npos);
  EXPECT_NE(verdict.message.find("with accumulation steps"), std::string::npos) << verdict.message;
}

TEST(MemoryPreflight, HugeShapesSaturateInsteadOfOverflowing) {
  // 2^30 sequences of 2^22 tokens: far past INT64_MAX bytes, counted as "does not fit", never negative.
  ModelConfig config = preset("tiny");
  config.max_position_embeddings = kMaxPositionEmbeddings;
  const MemoryEstimate estimate = training_memory(config, int64_t{1} << 30, kMaxPositionEmbeddings);
  EXPECT_EQ(estimate.total(), std::numeric_limits<int64_t>::max());
  const MemoryVerdict verdict =
      check_memory(training_request(config, int64_t{1} << 30, kMaxPositionEmbeddings, 1), {64 * kGiB, "x"});
  EXPECT_FALSE(verdict.fits);
  EXPECT_TRUE(verdict.largest_length.has_value() || verdict.largest_batch.has_value());
}

}  // namespace
}  // namespace minimind
