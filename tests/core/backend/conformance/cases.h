// The conformance cases, one table per op of the Backend interface. Shapes are small (the suite runs in
// seconds on two cores) but reach the edges a device kernel gets wrong: odd sizes, T = 1, head_dim 64 and
// 128, GQA ratios 1 to 8, a query block boundary, KV caches larger than the keys, padding with dropout,
// experts without rows, ties, skipped and clipped steps, non-finite losses. Each case states its tolerance
// beside it for f32 and bf16 compute; f32 is 1e-5 relative (norm-relative, see Discrepancy), bf16 2e-2 where
// the results are bf16 (8 significant bits), other values where a comment says why.
#pragma once

#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/backend/conformance/conformance.h"

namespace minimind::conformance {

// Every case prints as its name in gtest's messages.
template <typename Case>
requires requires(const Case& c) {
  c.name;
}
void PrintTo(const Case& c, std::ostream* out) {
  *out << c.name;
}

// out [rows, cols] = op(a) [rows, inner] @ op(b) [inner, cols] (+ out); wide_out: out in the statistic dtype
// (f32 products of bf16 operands, as the router's logits are made).
struct MatmulCase {
  std::string name;
  int64_t rows, inner, cols;
  bool transpose_a, transpose_b, accumulate;
  Tolerance tolerance;
  bool wide_out = false;
};

inline const std::vector<MatmulCase> kMatmulCases = {
    {"plain_7x13x5", 7, 13, 5, false, false, false, f32_within(1e-5).with_bf16(2e-2)},
    {"transpose_a_13x7x9", 13, 7, 9, true, false, false, f32_within(1e-5).with_bf16(2e-2)},
    {"transpose_b_linear_layer_9x64x33", 9, 64, 33, false, true, false, f32_within(1e-5).with_bf16(2e-2)},
    {"transpose_both_5x17x3", 5, 17, 3, true, true, false, f32_within(1e-5).with_bf16(2e-2)},
    {"accumulate_7x13x5", 7, 13, 5, false, false, true, f32_within(1e-5).with_bf16(2e-2)},
    {"accumulate_transpose_a_weight_grad_64x33x24", 64, 33, 24, true, false, true,
     f32_within(1e-5).with_bf16(2e-2)},
    {"accumulate_transpose_b_1x128x37", 1, 128, 37, false, true, true, f32_within(1e-5).with_bf16(2e-2)},
    {"accumulate_transpose_both_33x65x17", 33, 65, 17, true, true, true, f32_within(1e-5).with_bf16(2e-2)},
    {"single_element_1x1x1", 1, 1, 1, false, false, false, f32_within(1e-5).with_bf16(2e-2)},
    // Only the operands are rounded to bf16 here: the f32 result keeps the f32 accumulation's accuracy.
    {"wide_out_linear_layer_9x64x33", 9, 64, 33, false, true, false, f32_within(1e-5).with_bf16(1e-5), true},
    {"wide_out_accumulate_7x13x5", 7, 13, 5, false, false, true, f32_within(1e-5).with_bf16(1e-5), true},
};

// ids [rows] in [0, vocab) with repeats (the backward adds several rows into one), table [vocab, hidden].
struct EmbeddingCase {
  std::string name;
  int64_t rows, vocab, hidden;
  Tolerance tolerance;
};

inline const std::vector<EmbeddingCase> kEmbeddingCases = {
    {"one_row", 1, 37, 24, f32_within(1e-5).with_bf16(2e-2)},
    {"repeated_ids_13_rows", 13, 5, 24, f32_within(1e-5).with_bf16(2e-2)},
    {"hidden_64_vocab_37", 29, 37, 64, f32_within(1e-5).with_bf16(2e-2)},
};

// x [rows, hidden] uniform in [-input_scale, input_scale].
struct RmsnormCase {
  std::string name;
  int64_t rows, hidden;
  double eps, input_scale;
  Tolerance tolerance;
};

inline const std::vector<RmsnormCase> kRmsnormCases = {
    {"one_row_hidden_128", 1, 128, 1e-5, 1.0, f32_within(1e-5).with_bf16(2e-2)},
    {"odd_7x24", 7, 24, 1e-5, 1.0, f32_within(1e-5).with_bf16(2e-2)},
    {"small_inputs_eps_matters_13x64", 13, 64, 1e-6, 1e-3, f32_within(1e-5).with_bf16(2e-2)},
    {"large_inputs_5x37", 5, 37, 1e-5, 30.0, f32_within(1e-5).with_bf16(2e-2)},
};

// qkv [batch, seq, (q_heads + 2 kv_heads) head_dim] into q and rows kv_offset.. of k, v [batch, cache_rows,
// kv_heads, head_dim]. The backward is defined for the training shape only (kv_offset 0, cache_rows = seq).
struct RopeSplitCase {
  std::string name;
  int64_t batch, seq, q_heads, kv_heads, head_dim, cache_rows, kv_offset;
  Tolerance tolerance;
  bool training_shape() const { return kv_offset == 0 && cache_rows == seq; }
};

inline const std::vector<RopeSplitCase> kRopeSplitCases = {
    {"gqa2_head_dim_64_t7", 2, 7, 4, 2, 64, 7, 0, f32_within(1e-5).with_bf16(2e-2)},
    {"gqa1_head_dim_128_t13", 1, 13, 2, 2, 128, 13, 0, f32_within(1e-5).with_bf16(2e-2)},
    {"t1", 2, 1, 8, 1, 64, 1, 0, f32_within(1e-5).with_bf16(2e-2)},
    {"kv_offset_3_into_cache_of_12", 2, 5, 4, 2, 64, 12, 3, f32_within(1e-5).with_bf16(2e-2)},
    {"decode_t1_at_position_9_head_dim_128", 1, 1, 4, 1, 128, 16, 9, f32_within(1e-5).with_bf16(2e-2)},
};

// Causal GQA. cache_rows = 0 means seq (no cache), num_keys = 0 means cache_rows. padded_keys lists (b, s)
// keys masked out by key_mask; the backward runs for the training shape only (S = S_cap = T, offset 0).
struct AttentionCase {
  std::string name;
  int64_t batch, seq, q_heads, kv_heads, head_dim;
  int64_t cache_rows = 0, num_keys = 0, query_offset = 0;
  double dropout = 0.0;
  std::vector<std::pair<int64_t, int64_t>> padded_keys = {};
  Tolerance tolerance;  // stated by every case

  int64_t rows() const { return cache_rows ? cache_rows : seq; }
  int64_t keys() const { return num_keys ? num_keys : rows(); }
  bool training_shape() const { return rows() == seq && keys() == seq && query_offset == 0; }
};

// One case per line or two, read as a table.
// clang-format off
inline const std::vector<AttentionCase> kAttentionCases = {
    {.name = "gqa1_head_dim_64_t7", .batch = 2, .seq = 7, .q_heads = 2, .kv_heads = 2, .head_dim = 64,
     .tolerance = f32_within(1e-5).with_bf16(2e-2)},
    {.name = "gqa2_head_dim_64_t13", .batch = 1, .seq = 13, .q_heads = 4, .kv_heads = 2, .head_dim = 64,
     .tolerance = f32_within(1e-5).with_bf16(2e-2)},
    {.name = "gqa4_head_dim_128_t7", .batch = 1, .seq = 7, .q_heads = 4, .kv_heads = 1, .head_dim = 128,
     .tolerance = f32_within(1e-5).with_bf16(2e-2)},
    {.name = "gqa8_head_dim_64_t5", .batch = 2, .seq = 5, .q_heads = 8, .kv_heads = 1, .head_dim = 64,
     .tolerance = f32_within(1e-5).with_bf16(2e-2)},
    {.name = "gqa2_head_dim_128_t1", .batch = 2, .seq = 1, .q_heads = 4, .kv_heads = 2, .head_dim = 128,
     .tolerance = f32_within(1e-5).with_bf16(2e-2)},
    // 67 rows cross the CPU's 64-row query block and any power-of-two tile of a device kernel.
    {.name = "gqa2_head_dim_64_t67_past_one_block", .batch = 1, .seq = 67, .q_heads = 2, .kv_heads = 1,
     .head_dim = 64, .tolerance = f32_within(1e-5).with_bf16(2e-2)},
    // Sequence 1 left-padded by 3 (its first query rows see only padding), sequence 0 padded in the middle.
    {.name = "padding_key_mask_left_and_middle", .batch = 2, .seq = 7, .q_heads = 4, .kv_heads = 2,
     .head_dim = 64, .padded_keys = {{0, 4}, {1, 0}, {1, 1}, {1, 2}}, .tolerance = f32_within(1e-5).with_bf16(2e-2)},
    {.name = "dropout_0_1_gqa2", .batch = 2, .seq = 13, .q_heads = 4, .kv_heads = 2, .head_dim = 64,
     .dropout = 0.1, .tolerance = f32_within(1e-5).with_bf16(2e-2)},
    // Decoding and chunked prefill against a cache larger than the keys written so far (forward only); the
    // rows past num_keys hold NaN, which must never be read.
    {.name = "kv_cache_decode_t1_offset_10", .batch = 2, .seq = 1, .q_heads = 4, .kv_heads = 1,
     .head_dim = 128, .cache_rows = 16, .num_keys = 11, .query_offset = 10, .tolerance = f32_within(1e-5).with_bf16(2e-2)},
    // The training path of the model: padding and dropout together, the backward recomputing P from lse.
    {.name = "padding_and_dropout_gqa4_head_dim_128_t9", .batch = 2, .seq = 9, .q_heads = 8, .kv_heads = 2,
     .head_dim = 128, .dropout = 0.2, .padded_keys = {{0, 3}, {1, 0}, {1, 1}},
     .tolerance = f32_within(1e-5).with_bf16(2e-2)},
    {.name = "dropout_0_3_gqa8_head_dim_64_t1", .batch = 3, .seq = 1, .q_heads = 8, .kv_heads = 1, .head_dim = 64,
     .dropout = 0.3, .tolerance = f32_within(1e-5).with_bf16(2e-2)},
    {.name = "kv_cache_chunk_t3_offset_8_padded", .batch = 2, .seq = 3, .q_heads = 8, .kv_heads = 2,
     .head_dim = 64, .cache_rows = 16, .num_keys = 11, .query_offset = 8, .padded_keys = {{1, 0}, {1, 1}},
     .tolerance = f32_within(1e-5).with_bf16(2e-2)},
};
// clang-format on

// gate_up [rows, 2 width]; gate uniform in [-gate_scale, gate_scale] (large values saturate the sigmoid).
struct SwigluCase {
  std::string name;
  int64_t rows, width;
  double gate_scale;
  Tolerance tolerance;
};

inline const std::vector<SwigluCase> kSwigluCases = {
    {"one_row_width_64", 1, 64, 1.0, f32_within(1e-5).with_bf16(2e-2)},
    {"odd_7x37", 7, 37, 3.0, f32_within(1e-5).with_bf16(2e-2)},
    {"saturated_gates_13x24", 13, 24, 30.0, f32_within(1e-5).with_bf16(2e-2)},
};

// logits [rows, vocab] uniform in [-logit_scale, logit_scale]; the first masked_rows rows get d_loss 0 (as
// the loss mask gives them); in_place: d_logits is logits itself, as the model calls it.
struct CrossEntropyCase {
  std::string name;
  int64_t rows, vocab;
  double logit_scale;
  int64_t masked_rows;
  bool in_place;
  Tolerance tolerance;
};

inline const std::vector<CrossEntropyCase> kCrossEntropyCases = {
    {"one_row_vocab_128", 1, 128, 2.0, 0, false, f32_within(1e-5).with_bf16(2e-2)},
    {"odd_7x37_masked_rows", 7, 37, 2.0, 3, false, f32_within(1e-5).with_bf16(2e-2)},
    {"large_logits_13x300_in_place", 13, 300, 30.0, 2, true, f32_within(1e-5).with_bf16(2e-2)},
};

// logits [rows, experts]; tied: logits drawn from four exact values, so most rows hold ties (to the lower
// index); with_d_scores: the aux loss's gradient joins the backward.
struct MoeRouterCase {
  std::string name;
  int64_t rows, experts, top_k;
  bool normalize, tied, with_d_scores;
  Tolerance tolerance;
};

inline const std::vector<MoeRouterCase> kMoeRouterCases = {
    {"top2_of_8_normalized", 13, 8, 2, true, false, true, f32_within(1e-5).with_bf16(2e-2)},
    {"top1_of_4_no_aux", 7, 4, 1, true, false, false, f32_within(1e-5).with_bf16(2e-2)},
    {"top2_of_4_unnormalized", 5, 4, 2, false, false, true, f32_within(1e-5).with_bf16(2e-2)},
    {"all_6_experts", 3, 6, 6, true, false, true, f32_within(1e-5).with_bf16(2e-2)},
    {"ties_top2_of_8", 13, 8, 2, true, true, true, f32_within(1e-5).with_bf16(2e-2)},
    {"ties_top3_of_5_unnormalized", 7, 5, 3, false, true, false, f32_within(1e-5).with_bf16(2e-2)},
};

// scores [batch seq, experts] (softmax rows), topk_index [batch seq, top_k] of distinct experts.
struct MoeAuxLossCase {
  std::string name;
  int64_t batch, seq, experts, top_k;
  bool seq_aux;
  double alpha;
  Tolerance tolerance;
};

inline const std::vector<MoeAuxLossCase> kMoeAuxLossCases = {
    {"batch_aux_2x7_top2_of_8", 2, 7, 8, 2, false, 0.01, f32_within(1e-5).with_bf16(2e-2)},
    {"seq_aux_2x7_top2_of_8", 2, 7, 8, 2, true, 0.01, f32_within(1e-5).with_bf16(2e-2)},
    {"seq_aux_3x5_top1_of_4", 3, 5, 4, 1, true, 0.1, f32_within(1e-5).with_bf16(2e-2)},
    {"batch_aux_one_row", 1, 1, 4, 2, false, 0.1, f32_within(1e-5).with_bf16(2e-2)},
};

// topk_index [rows, top_k] drawn (distinct per row) from used_experts only: the other experts receive no
// rows, and their offsets must still be right.
struct MoeDispatchCase {
  std::string name;
  int64_t rows, hidden, experts, top_k;
  std::vector<int32_t> used_experts;
  Tolerance tolerance;
};

inline const std::vector<MoeDispatchCase> kMoeDispatchCases = {
    {"all_8_experts_top2", 13, 64, 8, 2, {0, 1, 2, 3, 4, 5, 6, 7}, f32_within(1e-5).with_bf16(2e-2)},
    {"first_last_and_middle_experts_empty", 11, 24, 8, 2, {1, 4, 6}, f32_within(1e-5).with_bf16(2e-2)},
    {"one_expert_takes_every_row", 7, 37, 4, 1, {2}, f32_within(1e-5).with_bf16(2e-2)},
    {"one_row_top3_of_6", 1, 24, 6, 3, {0, 3, 5}, f32_within(1e-5).with_bf16(2e-2)},
};

// params, grads, m, v [size] (master and gradient dtype); m and v start from a previous step's state when
// step > 1; clip is the step result's clip factor; applied = false is a skipped step, which changes nothing.
// The master weights and moments are f32 in a bf16 run too, so the f32 tolerance holds there as well; the
// compute copy is compared separately, at the rounding of its dtype.
struct AdamwCase {
  std::string name;
  int64_t size, step;
  double learning_rate, weight_decay, clip;
  bool applied;
  Tolerance tolerance;
};

inline const std::vector<AdamwCase> kAdamwCases = {
    {"first_step_one_element", 1, 1, 0.1, 0.0, 1.0, true, f32_within(1e-5).with_bf16(1e-5)},
    {"step_7_weight_decay_37", 37, 7, 0.1, 0.1, 1.0, true, f32_within(1e-5).with_bf16(1e-5)},
    {"step_1000_odd_size_40001", 40001, 1000, 0.05, 0.01, 1.0, true, f32_within(1e-5).with_bf16(1e-5)},
    {"clipped_step_3_odd_37", 37, 3, 0.1, 0.1, 0.0625, true, f32_within(1e-5).with_bf16(1e-5)},
    {"clipped_parallel_40001", 40001, 12, 0.01, 0.1, 0.3, true, f32_within(1e-5).with_bf16(1e-5)},
    {"skipped_step_37", 37, 5, 0.1, 0.1, 0.5, false, f32_within(1e-5).with_bf16(1e-5)},
};

// The decision over `micro` micro-steps' loss totals {weighted, scored, aux} and the gradients' sum of
// squares, with the control's max_norm and limits. Every value is an f64 step scalar in every precision,
// computed by the same formula: the tolerance is f64 rounding, and the applied flag must match exactly.
struct UpdateDecisionCase {
  std::string name;
  std::vector<std::vector<double>> micro;
  double sum_squares, max_norm, loss_limit, norm_limit;
  Tolerance tolerance;
};

inline constexpr double kInfinity = std::numeric_limits<double>::infinity();
inline constexpr double kNotANumber = std::numeric_limits<double>::quiet_NaN();

inline const std::vector<UpdateDecisionCase> kUpdateDecisionCases = {
    {"one_micro_step_no_clip",
     {{12.5, 5, 0}},
     4.0,
     0.0,
     kInfinity,
     kInfinity,
     f32_within(1e-12).with_bf16(1e-12)},
    {"three_micro_steps_with_aux_clipped",
     {{6, 3, 0.5}, {2, 4, 0.25}, {9, 3, 0.1}},
     25.0,
     1.0,
     kInfinity,
     kInfinity,
     f32_within(1e-12).with_bf16(1e-12)},
    {"micro_step_scoring_nothing",
     {{0, 0, 0.2}, {3, 2, 0.2}},
     0.25,
     1.0,
     kInfinity,
     kInfinity,
     f32_within(1e-12).with_bf16(1e-12)},
    {"loss_above_its_limit_skips",
     {{30, 3, 0}},
     4.0,
     1.0,
     9.0,
     kInfinity,
     f32_within(1e-12).with_bf16(1e-12)},
    {"norm_above_its_limit_skips",
     {{3, 3, 0}},
     16.0,
     1.0,
     kInfinity,
     3.5,
     f32_within(1e-12).with_bf16(1e-12)},
    {"at_the_limits_applies", {{4, 2, 0}}, 9.0, 3.0, 2.0, 3.0, f32_within(1e-12).with_bf16(1e-12)},
    {"nan_loss_skips",
     {{kNotANumber, 3, 0}},
     4.0,
     1.0,
     kInfinity,
     kInfinity,
     f32_within(1e-12).with_bf16(1e-12)},
    {"infinite_loss_skips",
     {{1, 3, 0}, {kInfinity, 3, 0}},
     4.0,
     1.0,
     kInfinity,
     kInfinity,
     f32_within(1e-12).with_bf16(1e-12)},
    {"nan_norm_skips",
     {{1, 3, 0}},
     kNotANumber,
     1.0,
     kInfinity,
     kInfinity,
     f32_within(1e-12).with_bf16(1e-12)},
    {"infinite_norm_skips",
     {{1, 3, 0}},
     kInfinity,
     1.0,
     kInfinity,
     kInfinity,
     f32_within(1e-12).with_bf16(1e-12)},
};

// losses [rows] (statistic dtype) and a loss mask of zeros and ones (the first `masked` rows 0), or no mask;
// scale for the backward. The totals are f64 sums of statistic values, so the f32 tolerance holds in a bf16
// run too.
struct MaskedLossCase {
  std::string name;
  int64_t rows, masked;
  bool with_mask;
  double scale;
  Tolerance tolerance;
};

inline const std::vector<MaskedLossCase> kMaskedLossCases = {
    {"one_row_no_mask", 1, 0, false, 1.0, f32_within(1e-5).with_bf16(1e-5)},
    {"odd_37_with_mask", 37, 11, true, 0.25, f32_within(1e-5).with_bf16(1e-5)},
    {"every_row_masked_scores_nothing", 13, 13, true, 1.0, f32_within(1e-5).with_bf16(1e-5)},
    {"many_rows_40001", 40001, 1000, true, 0.5, f32_within(1e-5).with_bf16(1e-5)},
};

// The experts' products over expert-sorted rows: rows_per_expert[e] rows for expert e (zeros are experts
// without rows), extra_rows more rows past the plan (left untouched), matrices [out, in] at a stride of
// out * in + gap inside one block.
struct ExpertMatmulCase {
  std::string name;
  std::vector<int32_t> rows_per_expert;
  int64_t extra_rows, in, out, gap;
  Tolerance tolerance;
};

inline const std::vector<ExpertMatmulCase> kExpertMatmulCases = {
    {"first_middle_last_experts_empty", {0, 5, 0, 7, 1, 0}, 0, 24, 37, 0, f32_within(1e-5).with_bf16(2e-2)},
    {"one_expert_takes_every_row", {0, 0, 13, 0}, 0, 64, 48, 0, f32_within(1e-5).with_bf16(2e-2)},
    {"strided_block_rows_past_the_plan", {3, 1, 4}, 5, 33, 17, 11, f32_within(1e-5).with_bf16(2e-2)},
    {"single_row_experts_in_128_out_64",
     {1, 1, 1, 1, 1, 1, 1, 1},
     0,
     128,
     64,
     0,
     f32_within(1e-5).with_bf16(2e-2)},
};

// copy between the roles' dtypes and the host: f64 host values into the compute dtype, compute into
// statistic and back, statistic into an f64 host tensor. Conversions are defined bit for bit (rounding to
// nearest even), so the result must equal tensor/convert.h's exactly.
struct CopyCase {
  std::string name;
  int64_t size;
  Tolerance tolerance;
};

inline const std::vector<CopyCase> kCopyCases = {
    {"one_element", 1, f32_within(0.0).with_bf16(0.0)},
    {"odd_37", 37, f32_within(0.0).with_bf16(0.0)},
    {"parallel_70001", 70001, f32_within(0.0).with_bf16(0.0)},
};

// add, scale, sum_squares and dropout over [size]; 40001 elements pass the CPU's threshold for threads.
struct ElementwiseCase {
  std::string name;
  int64_t size;
  double factor, dropout;
  Tolerance tolerance;
};

inline const std::vector<ElementwiseCase> kElementwiseCases = {
    {"one_element", 1, -1.7, 0.1, f32_within(1e-5).with_bf16(2e-2)},
    {"odd_37", 37, 0.37, 0.1, f32_within(1e-5).with_bf16(2e-2)},
    {"parallel_40001", 40001, 3.0, 0.25, f32_within(1e-5).with_bf16(2e-2)},
};

// sample_tokens over [rows, vocab] logits uniform in [-scale, scale] (or, with `levels`, rounded to that many
// distinct values, so that ties decide), with a share of the ids marked as seen. Token ids admit no
// tolerance: the backend must pick the reference's token in every row (both filter the same rounded logits
// in double; only the grouping of sums differs, about 1e-16 relative, far from these draws' boundaries).
struct SampleTokensCase {
  std::string name;
  int64_t rows, vocab;
  TokenFilters filters;
  double scale, seen_share = 0.0;
  int levels = 0;
};

inline TokenFilters greedy_filters(double penalty = 1.0) {
  return {penalty, true, 1.0, 0, 1.0};
}
inline TokenFilters sampling_filters(double temperature, int64_t top_k, double top_p, double penalty = 1.0) {
  return {penalty, false, temperature, top_k, top_p};
}

inline const std::vector<SampleTokensCase> kSampleTokensCases = {
    {"greedy_3x1000", 3, 1000, greedy_filters(), 4.0},
    {"greedy_penalty_4x1031", 4, 1031, greedy_filters(1.3), 4.0, 0.2},
    {"greedy_ties_5x777", 5, 777, greedy_filters(), 4.0, 0.0, 3},
    {"plain_draw_8x6400", 8, 6400, sampling_filters(1.0, 0, 1.0), 6.0},
    {"temperature_6x6400", 6, 6400, sampling_filters(0.7, 0, 1.0), 6.0},
    {"top_k_50_6x6400", 6, 6400, sampling_filters(1.0, 50, 1.0), 6.0},
    {"top_k_ties_6x1000", 6, 1000, sampling_filters(1.0, 10, 1.0), 4.0, 0.0, 7},
    {"top_p_0_9_6x6400", 6, 6400, sampling_filters(1.0, 0, 0.9), 6.0},
    {"top_p_ties_6x1000", 6, 1000, sampling_filters(1.0, 0, 0.6), 4.0, 0.0, 9},
    {"top_p_tiny_keeps_the_largest_4x500", 4, 500, sampling_filters(1.0, 0, 1e-9), 4.0, 0.0, 5},
    {"everything_8x6400", 8, 6400, sampling_filters(0.85, 40, 0.85, 1.2), 6.0, 0.05},
    {"one_token_vocab_2x1", 2, 1, sampling_filters(0.9, 0, 0.5), 1.0},
    {"wide_vocab_2x70001", 2, 70001, sampling_filters(0.9, 0, 0.95, 1.1), 8.0, 0.01},
};

}  // namespace minimind::conformance
