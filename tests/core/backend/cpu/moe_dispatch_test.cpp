// MoE dispatch plan, gather and combine (reference: a hand-worked plan, the plan's invariants checked slot
// by slot, the sums written out with explicit loops, and central finite differences in f64 for the
// backwards).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "support/gradient_check.h"
#include "support/tensor_helpers.h"

namespace minimind {
namespace {

using testing::expect_gradient_near;
using testing::i32_tensor;
using testing::numeric_gradient;
using testing::random_ids;
using testing::random_tensor;
using testing::to_f32;
using testing::weighted_sum;

std::vector<int32_t> values_of(const Tensor& t) {
  return std::vector<int32_t>(t.data<int32_t>(), t.data<int32_t>() + t.numel());
}

// Distinct experts per row, as the router chooses them.
Tensor router_like_index(int64_t rows, int64_t k, int32_t experts, std::mt19937_64& rng) {
  Tensor t = Tensor::empty({rows, k}, DType::i32);
  std::vector<int32_t> all(static_cast<size_t>(experts));
  for (int64_t n = 0; n < rows; ++n) {
    for (int32_t e = 0; e < experts; ++e) all[e] = e;
    std::shuffle(all.begin(), all.end(), rng);
    std::copy_n(all.begin(), k, t.data<int32_t>() + n * k);
  }
  return t;
}

struct Plan {
  Tensor offsets, slot_of;
};

Plan make_plan(CpuBackend& backend, const Tensor& topk_index, int64_t experts) {
  Plan plan{Tensor::empty({experts + 1}, DType::i32), Tensor::empty(topk_index.shape(), DType::i32)};
  backend.moe_plan(topk_index, experts, plan.offsets, plan.slot_of);
  return plan;
}

TEST(MoeDispatch, PlanOfAHandWorkedExample) {
  CpuBackend backend;
  // Rows (n, k): 0 -> (2, 0), 1 -> (0, 2), 2 -> (2, 1); expert 3 is idle.
  Tensor topk = i32_tensor({3, 2}, {2, 0, 0, 2, 2, 1});
  Plan plan = make_plan(backend, topk, 4);
  // Expert 0: slots (0,1), (1,0); expert 1: (2,1); expert 2: (0,0), (1,1), (2,0).
  EXPECT_EQ(values_of(plan.offsets), (std::vector<int32_t>{0, 2, 3, 6, 6}));
  EXPECT_EQ(values_of(plan.slot_of), (std::vector<int32_t>{3, 0, 1, 4, 5, 2}));
}

TEST(MoeDispatch, PlanIsAStableSortByExpert) {
  CpuBackend backend;
  std::mt19937_64 rng(8);
  const int64_t rows = 37, k = 3, experts = 7;
  // Repeats within a row are allowed by the plan; the random ids include some.
  for (const Tensor& topk : {random_ids({rows, k}, experts, rng), router_like_index(rows, k, experts, rng)}) {
    Plan plan = make_plan(backend, topk, experts);
    const int32_t* expert = topk.data<int32_t>();
    const int32_t* offsets = plan.offsets.data<int32_t>();
    const int32_t* slot = plan.slot_of.data<int32_t>();
    EXPECT_EQ(offsets[0], 0);
    EXPECT_EQ(offsets[experts], rows * k);
    for (int64_t e = 0; e < experts; ++e)
      EXPECT_EQ(offsets[e + 1] - offsets[e], std::count(expert, expert + rows * k, static_cast<int32_t>(e)));
    // Each sorted row is used by exactly one (n, k), inside its expert's block, and the (n, k) of a block
    // appear in increasing order.
    std::vector<int64_t> owner(static_cast<size_t>(rows * k), -1);
    for (int64_t i = 0; i < rows * k; ++i) {
      ASSERT_GE(slot[i], 0);
      ASSERT_LT(slot[i], rows * k);
      EXPECT_EQ(owner[slot[i]], -1) << "sorted row " << slot[i] << " used twice";
      owner[slot[i]] = i;
      EXPECT_GE(slot[i], offsets[expert[i]]);
      EXPECT_LT(slot[i], offsets[expert[i] + 1]);
    }
    for (int64_t e = 0; e < experts; ++e)
      for (int32_t s = offsets[e] + 1; s < offsets[e + 1]; ++s) EXPECT_LT(owner[s - 1], owner[s]);
  }
}

TEST(MoeDispatch, PlanRejectsBadArguments) {
  CpuBackend backend;
  Tensor topk = i32_tensor({2, 2}, {0, 1, 2, 0});
  Tensor offsets = Tensor::empty({4}, DType::i32);
  Tensor slot_of = Tensor::empty({2, 2}, DType::i32);
  EXPECT_NO_THROW(backend.moe_plan(topk, 3, offsets, slot_of));
  EXPECT_THROW(backend.moe_plan(topk, 2, offsets, slot_of), std::invalid_argument);  // offsets size
  Tensor none = Tensor::empty({1}, DType::i32);
  EXPECT_THROW(backend.moe_plan(topk, 0, none, slot_of), std::invalid_argument);
  Tensor slot_wrong = Tensor::empty({2, 3}, DType::i32);
  EXPECT_THROW(backend.moe_plan(topk, 3, offsets, slot_wrong), std::invalid_argument);
  Tensor offsets_f32 = Tensor::empty({4}, DType::f32);
  EXPECT_THROW(backend.moe_plan(topk, 3, offsets_f32, slot_of), std::invalid_argument);
  Tensor topk_f32 = Tensor::zeros({2, 2}, DType::f32);
  EXPECT_THROW(backend.moe_plan(topk_f32, 3, offsets, slot_of), std::invalid_argument);
}

TEST(MoeDispatch, GatherCopiesRowsAndItsBackwardAccumulates) {
  CpuBackend backend;
  std::mt19937_64 rng(12);
  const int64_t rows = 6, k = 2, hidden = 5, experts = 4;
  Plan plan = make_plan(backend, router_like_index(rows, k, experts, rng), experts);
  Tensor x = random_tensor({rows, hidden}, DType::f64, rng);
  Tensor sorted = Tensor::empty({rows * k, hidden}, DType::f64);
  backend.moe_gather(x, plan.slot_of, sorted);
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t j = 0; j < k; ++j)
      for (int64_t h = 0; h < hidden; ++h)
        EXPECT_EQ(sorted.data<double>()[plan.slot_of.data<int32_t>()[n * k + j] * hidden + h],
                  x.data<double>()[n * hidden + h]);

  Tensor g = random_tensor({rows * k, hidden}, DType::f64, rng);
  const std::vector<double> numeric = numeric_gradient(x, [&] {
    backend.moe_gather(x, plan.slot_of, sorted);
    return weighted_sum(sorted, g);
  });
  Tensor d_x = random_tensor({rows, hidden}, DType::f64, rng);
  const Tensor before = Tensor::empty({rows, hidden}, DType::f64);
  std::copy_n(d_x.data<double>(), d_x.numel(), before.data<double>());
  backend.moe_gather_backward(g, plan.slot_of, d_x);
  for (int64_t i = 0; i < d_x.numel(); ++i) d_x.data<double>()[i] -= before.data<double>()[i];  // d_x +=
  expect_gradient_near(d_x, numeric, "d_x");
}

// y[n] += sum_k w[n, k] expert_out[slot_of[n, k]], with explicit loops.
Tensor reference_combine(const Tensor& expert_out, const Tensor& weight, const Tensor& slot_of,
                         const Tensor& y0) {
  const int64_t rows = y0.dim(0), hidden = y0.dim(1), k = weight.dim(1);
  Tensor y = Tensor::empty(y0.shape(), DType::f64);
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t h = 0; h < hidden; ++h) {
      double sum = y0.data<double>()[n * hidden + h];
      for (int64_t j = 0; j < k; ++j)
        sum += weight.data<double>()[n * k + j] *
               expert_out.data<double>()[slot_of.data<int32_t>()[n * k + j] * hidden + h];
      y.data<double>()[n * hidden + h] = sum;
    }
  return y;
}

TEST(MoeDispatch, CombineAddsWeightedExpertRows) {
  CpuBackend backend;
  std::mt19937_64 rng(13);
  // The second size is past the parallel threshold.
  for (int64_t rows : {5, 300}) {
    const int64_t k = 2, hidden = 64, experts = 8;
    Plan plan = make_plan(backend, router_like_index(rows, k, experts, rng), experts);
    Tensor expert_out = random_tensor({rows * k, hidden}, DType::f64, rng);
    Tensor weight = random_tensor({rows, k}, DType::f64, rng);
    Tensor y = random_tensor({rows, hidden}, DType::f64, rng);
    const Tensor expected = reference_combine(expert_out, weight, plan.slot_of, y);
    backend.moe_combine_forward(expert_out, weight, plan.slot_of, y);
    for (int64_t i = 0; i < y.numel(); ++i)
      EXPECT_NEAR(y.data<double>()[i], expected.data<double>()[i], 1e-14)
          << "rows " << rows << " element " << i;
  }
}

TEST(MoeDispatch, CombineBackwardMatchesFiniteDifferences) {
  CpuBackend backend;
  std::mt19937_64 rng(14);
  const int64_t rows = 5, k = 3, hidden = 4, experts = 6;
  Plan plan = make_plan(backend, router_like_index(rows, k, experts, rng), experts);
  Tensor expert_out = random_tensor({rows * k, hidden}, DType::f64, rng);
  Tensor weight = random_tensor({rows, k}, DType::f64, rng);
  Tensor g = random_tensor({rows, hidden}, DType::f64, rng);
  auto loss = [&] {
    Tensor y = Tensor::zeros({rows, hidden}, DType::f64);
    backend.moe_combine_forward(expert_out, weight, plan.slot_of, y);
    return weighted_sum(y, g);
  };
  const std::vector<double> numeric_expert = numeric_gradient(expert_out, loss);
  const std::vector<double> numeric_weight = numeric_gradient(weight, loss);

  Tensor d_expert = Tensor::empty({rows * k, hidden}, DType::f64);
  Tensor d_weight = Tensor::empty({rows, k}, DType::f64);
  std::fill_n(d_expert.data<double>(), d_expert.numel(), 55.0);  // both overwritten
  std::fill_n(d_weight.data<double>(), d_weight.numel(), 55.0);
  backend.moe_combine_backward(g, expert_out, weight, plan.slot_of, d_expert, d_weight);
  expect_gradient_near(d_expert, numeric_expert, "d_expert_out");
  expect_gradient_near(d_weight, numeric_weight, "d_topk_weight");
}

TEST(MoeDispatch, FloatAgreesWithDouble) {
  CpuBackend backend;
  std::mt19937_64 rng(15);
  const int64_t rows = 300, k = 2, hidden = 64, experts = 8;  // past the parallel threshold
  Plan plan = make_plan(backend, router_like_index(rows, k, experts, rng), experts);
  Tensor x = random_tensor({rows, hidden}, DType::f64, rng);
  Tensor expert_out = random_tensor({rows * k, hidden}, DType::f64, rng);
  Tensor weight = random_tensor({rows, k}, DType::f64, rng);
  Tensor g = random_tensor({rows, hidden}, DType::f64, rng);
  Tensor g_sorted = random_tensor({rows * k, hidden}, DType::f64, rng);

  Tensor sorted64 = Tensor::empty({rows * k, hidden}, DType::f64),
         sorted32 = Tensor::empty({rows * k, hidden}, DType::f32);
  backend.moe_gather(x, plan.slot_of, sorted64);
  backend.moe_gather(to_f32(x), plan.slot_of, sorted32);
  Tensor dx64 = Tensor::zeros({rows, hidden}, DType::f64), dx32 = Tensor::zeros({rows, hidden}, DType::f32);
  backend.moe_gather_backward(g_sorted, plan.slot_of, dx64);
  backend.moe_gather_backward(to_f32(g_sorted), plan.slot_of, dx32);
  Tensor y64 = Tensor::zeros({rows, hidden}, DType::f64), y32 = Tensor::zeros({rows, hidden}, DType::f32);
  backend.moe_combine_forward(expert_out, weight, plan.slot_of, y64);
  backend.moe_combine_forward(to_f32(expert_out), to_f32(weight), plan.slot_of, y32);
  Tensor de64 = Tensor::empty({rows * k, hidden}, DType::f64),
         de32 = Tensor::empty({rows * k, hidden}, DType::f32);
  Tensor dw64 = Tensor::empty({rows, k}, DType::f64), dw32 = Tensor::empty({rows, k}, DType::f32);
  backend.moe_combine_backward(g, expert_out, weight, plan.slot_of, de64, dw64);
  backend.moe_combine_backward(to_f32(g), to_f32(expert_out), to_f32(weight), plan.slot_of, de32, dw32);

  auto worst = [](const Tensor& narrow, const Tensor& wide) {
    double error = 0;
    for (int64_t i = 0; i < wide.numel(); ++i)
      error = std::max(error, std::abs(narrow.data<float>()[i] - wide.data<double>()[i]));
    return error;
  };
  EXPECT_LT(worst(sorted32, sorted64), 1e-7);  // values in [-1, 1], a copy: only the rounding to f32
  EXPECT_LT(worst(dx32, dx64), 1e-6);
  EXPECT_LT(worst(y32, y64), 1e-6);
  EXPECT_LT(worst(de32, de64), 1e-6);
  EXPECT_LT(worst(dw32, dw64), 1e-5);  // a dot product of 64 terms of size ~1
}

TEST(MoeDispatch, GatherAndCombineRejectBadArguments) {
  CpuBackend backend;
  const int64_t rows = 3, k = 2, hidden = 4;
  Tensor slot_of = i32_tensor({rows, k}, {0, 3, 1, 4, 2, 5});
  Tensor x = Tensor::zeros({rows, hidden}, DType::f32);
  Tensor sorted = Tensor::empty({rows * k, hidden}, DType::f32);
  Tensor weight = Tensor::zeros({rows, k}, DType::f32);
  Tensor y = Tensor::zeros({rows, hidden}, DType::f32);
  Tensor d_weight = Tensor::empty({rows, k}, DType::f32);
  Tensor d_sorted = Tensor::empty({rows * k, hidden}, DType::f32);
  EXPECT_NO_THROW(backend.moe_gather(x, slot_of, sorted));
  EXPECT_NO_THROW(backend.moe_gather_backward(sorted, slot_of, x));
  EXPECT_NO_THROW(backend.moe_combine_forward(sorted, weight, slot_of, y));
  EXPECT_NO_THROW(backend.moe_combine_backward(y, sorted, weight, slot_of, d_sorted, d_weight));

  Tensor sorted_short = Tensor::empty({rows * k - 1, hidden}, DType::f32);
  EXPECT_THROW(backend.moe_gather(x, slot_of, sorted_short), std::invalid_argument);
  Tensor sorted_f64 = Tensor::empty({rows * k, hidden}, DType::f64);
  EXPECT_THROW(backend.moe_gather(x, slot_of, sorted_f64), std::invalid_argument);
  EXPECT_THROW(backend.moe_gather_backward(sorted_f64, slot_of, x), std::invalid_argument);
  Tensor weight_wide = Tensor::zeros({rows, k + 1}, DType::f32);
  EXPECT_THROW(backend.moe_combine_forward(sorted, weight_wide, slot_of, y), std::invalid_argument);
  Tensor weight_f64 = Tensor::zeros({rows, k}, DType::f64);
  EXPECT_THROW(backend.moe_combine_forward(sorted, weight_f64, slot_of, y), std::invalid_argument);
  Tensor d_weight_wrong = Tensor::empty({rows, k + 1}, DType::f32);
  EXPECT_THROW(backend.moe_combine_backward(y, sorted, weight, slot_of, d_sorted, d_weight_wrong),
               std::invalid_argument);
  EXPECT_THROW(backend.moe_combine_backward(y, sorted, weight, slot_of, sorted_short, d_weight),
               std::invalid_argument);
  Tensor slot_rows = Tensor::zeros({rows + 1, k}, DType::i32);
  EXPECT_THROW(backend.moe_gather(x, slot_rows, sorted), std::invalid_argument);
  Tensor slot_f32 = Tensor::zeros({rows, k}, DType::f32);
  EXPECT_THROW(backend.moe_combine_forward(sorted, weight, slot_f32, y), std::invalid_argument);
}

}  // namespace
}  // namespace minimind
