// embedding (references: the forward is an exact row copy; the backward against finite differences in
// double of a weighted sum of the output w.r.t. the table, with repeated ids, rtol 1e-6; the parallel scatter
// is bit-identical to a serial loop over rows at any thread count).
#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "support/gradient_check.h"
#include "support/tensor_helpers.h"

namespace minimind {
namespace {

using testing::clone;
using testing::expect_gradient_near;
using testing::expect_rejects;
using testing::i32_tensor;
using testing::numeric_gradient;
using testing::random_ids;
using testing::random_tensor;
using testing::weighted_sum;

TEST(CpuEmbedding, ForwardCopiesTheRowsOfTheIds) {
  std::mt19937_64 rng(1);
  CpuBackend backend;
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor table = random_tensor({6, 5}, dtype, rng);
    const Tensor ids = i32_tensor({5}, {5, 0, 3, 3, 1});
    Tensor out = Tensor::empty({5, 5}, dtype);
    backend.embedding_forward(ids, table, out);
    const size_t row_bytes = 5 * dtype_size(dtype);
    for (int64_t n = 0; n < 5; ++n) {
      const int32_t id = ids.data<int32_t>()[n];
      EXPECT_EQ(std::memcmp(static_cast<char*>(out.raw()) + n * row_bytes,
                            static_cast<char*>(table.raw()) + id * row_bytes, row_bytes),
                0)
          << "row " << n;
    }
  }
}

TEST(CpuEmbedding, BackwardMatchesFiniteDifferencesWithRepeatedIds) {
  std::mt19937_64 rng(2);
  CpuBackend backend;
  const int64_t vocab_size = 5, hidden = 4;
  // 12 ids over 5 rows repeat; row 4 is never used and must receive no gradient.
  const Tensor ids = i32_tensor({12}, {1, 1, 0, 3, 2, 1, 0, 3, 3, 2, 1, 0});
  Tensor table = random_tensor({vocab_size, hidden}, DType::f64, rng);
  const Tensor loss_weights = random_tensor({12, hidden}, DType::f64, rng);
  Tensor out = Tensor::empty({12, hidden}, DType::f64);
  const auto loss = [&] {
    backend.embedding_forward(ids, table, out);
    return weighted_sum(out, loss_weights);
  };
  const std::vector<double> numeric = numeric_gradient(table, loss);

  // The gradient accumulates: start from random values and take them off afterwards.
  Tensor d_table = random_tensor({vocab_size, hidden}, DType::f64, rng);
  const Tensor before = clone(d_table);
  backend.embedding_backward(ids, loss_weights, d_table);
  for (int64_t i = 0; i < d_table.numel(); ++i) d_table.data<double>()[i] -= before.data<double>()[i];
  expect_gradient_near(d_table, numeric, "d_table");
  for (int64_t h = 0; h < hidden; ++h) EXPECT_EQ(d_table.data<double>()[4 * hidden + h], 0.0);
}

// Sizes that take the parallel path, with a hidden size that is not a whole number of cache lines, so that
// the column bands have ragged ends. The result must equal a serial scatter bit for bit.
TEST(CpuEmbedding, ParallelBackwardIsDeterministicAndMatchesSerialScatter) {
  std::mt19937_64 rng(3);
  const int64_t rows = 4096, vocab_size = 7, hidden = 80;
  const Tensor ids = random_ids({rows}, vocab_size, rng);
  const Tensor d_out = random_tensor({rows, hidden}, DType::f32, rng);
  const Tensor start = random_tensor({vocab_size, hidden}, DType::f32, rng);

  Tensor serial = clone(start);
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t h = 0; h < hidden; ++h)
      serial.data<float>()[ids.data<int32_t>()[n] * hidden + h] += d_out.data<float>()[n * hidden + h];

  const int saved_threads = omp_get_max_threads();
  for (int threads : {1, 2, 3, 5}) {
    omp_set_num_threads(threads);
    CpuBackend backend;
    Tensor d_table = clone(start);
    backend.embedding_backward(ids, d_out, d_table);
    EXPECT_EQ(std::memcmp(d_table.raw(), serial.raw(), serial.bytes()), 0) << threads << " threads";
  }
  omp_set_num_threads(saved_threads);
}

TEST(CpuEmbedding, ForwardAgreesBetweenF32AndF64) {
  std::mt19937_64 rng(4);
  CpuBackend backend;
  const Tensor table = random_tensor({300, 130}, DType::f64, rng);
  Tensor table_f32 = Tensor::empty(table.shape(), DType::f32);
  for (int64_t i = 0; i < table.numel(); ++i)
    table_f32.data<float>()[i] = static_cast<float>(table.data<double>()[i]);
  const Tensor ids = random_ids({500}, 300, rng);
  Tensor out = Tensor::empty({500, 130}, DType::f64);
  Tensor out_f32 = Tensor::empty({500, 130}, DType::f32);
  backend.embedding_forward(ids, table, out);
  backend.embedding_forward(ids, table_f32, out_f32);
  for (int64_t i = 0; i < out.numel(); ++i)
    ASSERT_NEAR(out_f32.data<float>()[i], out.data<double>()[i], 1e-7 * std::abs(out.data<double>()[i]));
}

TEST(CpuEmbedding, RejectsWrongShapesAndDtypes) {
  CpuBackend backend;
  const Tensor ids = i32_tensor({3}, {0, 1, 2});
  const Tensor table = Tensor::zeros({4, 3}, DType::f32);
  Tensor out = Tensor::zeros({3, 3}, DType::f32);
  EXPECT_NO_THROW(backend.embedding_forward(ids, table, out));
  Tensor short_out = Tensor::zeros({2, 3}, DType::f32);
  expect_rejects([&] { backend.embedding_forward(ids, table, short_out); }, "out");
  Tensor out_f64 = Tensor::zeros({3, 3}, DType::f64);
  expect_rejects([&] { backend.embedding_forward(ids, table, out_f64); }, "out");
  const Tensor float_ids = Tensor::zeros({3}, DType::f32);
  expect_rejects([&] { backend.embedding_forward(float_ids, table, out); }, "ids");
  const Tensor ids_2d = Tensor::zeros({3, 1}, DType::i32);
  expect_rejects([&] { backend.embedding_forward(ids_2d, table, out); }, "ids");
  const Tensor table_i32 = Tensor::zeros({4, 3}, DType::i32);
  Tensor out_i32 = Tensor::zeros({3, 3}, DType::i32);
  EXPECT_THROW(backend.embedding_forward(ids, table_i32, out_i32), std::invalid_argument);

  Tensor d_table = Tensor::zeros({4, 3}, DType::f32);
  const Tensor d_out_wide = Tensor::zeros({3, 4}, DType::f32);
  expect_rejects([&] { backend.embedding_backward(ids, d_out_wide, d_table); }, "d_out");
  // d_out sets the compute dtype; the table's gradient must be its wide dtype.
  const Tensor d_out_f64 = Tensor::zeros({3, 3}, DType::f64);
  expect_rejects([&] { backend.embedding_backward(ids, d_out_f64, d_table); }, "d_table");
}

}  // namespace
}  // namespace minimind
