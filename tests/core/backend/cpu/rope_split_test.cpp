// rope_split on the CPU backend. References: the closed form of rotate-half RoPE (each pair (i, i + D/2)
// rotated by the angle p * theta^(-2i/D)), the KV-cache rows written at kv_offset, finite differences in
// double for the backward (the op is linear, so they are exact up to rounding), and f32 against f64.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backend/cpu/cpu_backend.h"
#include "support/gradient_check.h"
#include "support/tensor_helpers.h"

namespace minimind {
namespace {

using testing::expect_gradient_near;
using testing::filled;
using testing::numeric_gradient;
using testing::random_tensor;
using testing::relative_error;
using testing::to_f32;
using testing::weighted_sum;

constexpr double kTheta = 10000.0;

double rope_angle(int64_t position, int64_t pair, int64_t head_dim) {
  return static_cast<double>(position) * std::pow(kTheta, -2.0 * static_cast<double>(pair) / head_dim);
}

// cos/sin [P, D] as the model builds them: both halves of a row hold the angles of the D/2 pairs.
void model_tables(int64_t positions, int64_t head_dim, DType dtype, Tensor& cos, Tensor& sin) {
  Tensor cos64 = Tensor::empty({positions, head_dim}, DType::f64);
  Tensor sin64 = Tensor::empty({positions, head_dim}, DType::f64);
  for (int64_t p = 0; p < positions; ++p)
    for (int64_t i = 0; i < head_dim; ++i) {
      const double angle = rope_angle(p, i % (head_dim / 2), head_dim);
      cos64.data<double>()[p * head_dim + i] = std::cos(angle);
      sin64.data<double>()[p * head_dim + i] = std::sin(angle);
    }
  cos = dtype == DType::f64 ? cos64 : to_f32(cos64);
  sin = dtype == DType::f64 ? sin64 : to_f32(sin64);
}

struct RopeShape {
  int64_t batch, seq, q_heads, kv_heads, head_dim;
  int64_t width() const { return (q_heads + 2 * kv_heads) * head_dim; }
};

// Checks head `head` of a [.., Hx, D] row against the closed-form rotation of qkv's head `qkv_head`.
void expect_rotated(const double* qkv_row, int64_t qkv_head, const double* out_row, int64_t head,
                    int64_t position, int64_t head_dim, const std::string& what) {
  const int64_t half = head_dim / 2;
  const double* x = qkv_row + qkv_head * head_dim;
  const double* y = out_row + head * head_dim;
  for (int64_t i = 0; i < half; ++i) {
    const double angle = rope_angle(position, i, head_dim);
    EXPECT_NEAR(y[i], x[i] * std::cos(angle) - x[i + half] * std::sin(angle), 1e-12) << what << " pair " << i;
    EXPECT_NEAR(y[i + half], x[i] * std::sin(angle) + x[i + half] * std::cos(angle), 1e-12)
        << what << " pair " << i;
  }
}

TEST(RopeSplit, ForwardRotatesPairsAndWritesTheCacheRowsAtTheOffset) {
  CpuBackend backend;
  std::mt19937_64 rng(11);
  const RopeShape shape{2, 4, 4, 2, 8};
  const int64_t cache_rows = 10, kv_offset = 3;
  const double sentinel = 42.0;
  Tensor qkv = random_tensor({shape.batch, shape.seq, shape.width()}, DType::f64, rng);
  Tensor cos, sin;
  model_tables(kv_offset + shape.seq, shape.head_dim, DType::f64, cos, sin);
  Tensor q = Tensor::empty({shape.batch, shape.seq, shape.q_heads, shape.head_dim}, DType::f64);
  Tensor k = filled({shape.batch, cache_rows, shape.kv_heads, shape.head_dim}, sentinel);
  Tensor v = filled(k.shape(), sentinel);
  backend.rope_split_forward(qkv, cos, sin, kv_offset, q, k, v);

  const int64_t D = shape.head_dim, kv_width = shape.kv_heads * D;
  for (int64_t b = 0; b < shape.batch; ++b) {
    for (int64_t t = 0; t < shape.seq; ++t) {
      const double* x = qkv.data<double>() + (b * shape.seq + t) * shape.width();
      const int64_t position = kv_offset + t;
      const std::string where = "b " + std::to_string(b) + " t " + std::to_string(t);
      for (int64_t h = 0; h < shape.q_heads; ++h)
        expect_rotated(x, h, q.data<double>() + (b * shape.seq + t) * shape.q_heads * D, h, position, D,
                       "q " + where);
      const double* k_row = k.data<double>() + (b * cache_rows + position) * kv_width;
      const double* v_row = v.data<double>() + (b * cache_rows + position) * kv_width;
      for (int64_t h = 0; h < shape.kv_heads; ++h)
        expect_rotated(x, shape.q_heads + h, k_row, h, position, D, "k " + where);
      for (int64_t i = 0; i < kv_width; ++i)
        EXPECT_EQ(v_row[i], x[(shape.q_heads + shape.kv_heads) * D + i])
            << "v " << where;  // copied, not rotated
    }
    for (int64_t row = 0; row < cache_rows; ++row) {
      if (row >= kv_offset && row < kv_offset + shape.seq) continue;
      for (int64_t i = 0; i < kv_width; ++i) {
        EXPECT_EQ(k.data<double>()[(b * cache_rows + row) * kv_width + i], sentinel) << "k row " << row;
        EXPECT_EQ(v.data<double>()[(b * cache_rows + row) * kv_width + i], sentinel) << "v row " << row;
      }
    }
  }
}

TEST(RopeSplit, PositionZeroIsTheIdentity) {
  CpuBackend backend;
  std::mt19937_64 rng(12);
  const RopeShape shape{1, 1, 2, 1, 6};
  Tensor qkv = random_tensor({1, 1, shape.width()}, DType::f64, rng);
  Tensor cos, sin;
  model_tables(1, shape.head_dim, DType::f64, cos, sin);
  Tensor q = Tensor::empty({1, 1, 2, 6}, DType::f64), k = Tensor::empty({1, 1, 1, 6}, DType::f64);
  Tensor v = Tensor::empty(k.shape(), DType::f64);
  backend.rope_split_forward(qkv, cos, sin, 0, q, k, v);
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(q.data<double>()[i], qkv.data<double>()[i]);
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(k.data<double>()[i], qkv.data<double>()[12 + i]);
}

// loss = w_q . q + w_k . k + w_v . v, so (d_q, d_k, d_v) = (w_q, w_k, w_v) and d_qkv = d loss / d qkv.
void check_backward(const RopeShape& shape, const Tensor& cos, const Tensor& sin, std::mt19937_64& rng) {
  CpuBackend backend;
  Tensor qkv = random_tensor({shape.batch, shape.seq, shape.width()}, DType::f64, rng);
  const Shape q_shape{shape.batch, shape.seq, shape.q_heads, shape.head_dim};
  const Shape kv_shape{shape.batch, shape.seq, shape.kv_heads, shape.head_dim};
  Tensor w_q = random_tensor(q_shape, DType::f64, rng), w_k = random_tensor(kv_shape, DType::f64, rng);
  Tensor w_v = random_tensor(kv_shape, DType::f64, rng);
  Tensor q = Tensor::empty(q_shape, DType::f64), k = Tensor::empty(kv_shape, DType::f64);
  Tensor v = Tensor::empty(kv_shape, DType::f64);
  auto loss = [&] {
    backend.rope_split_forward(qkv, cos, sin, 0, q, k, v);
    return weighted_sum(q, w_q) + weighted_sum(k, w_k) + weighted_sum(v, w_v);
  };
  Tensor d_qkv = filled(qkv.shape(), 1e3);  // overwritten, not accumulated
  backend.rope_split_backward(w_q, w_k, w_v, cos, sin, d_qkv);
  expect_gradient_near(d_qkv, numeric_gradient(qkv, loss), "d_qkv", 1e-7, 1e-9);
}

TEST(RopeSplit, BackwardMatchesFiniteDifferencesWithModelTables) {
  std::mt19937_64 rng(13);
  const RopeShape shape{2, 5, 4, 2, 8};
  Tensor cos, sin;
  model_tables(7, shape.head_dim, DType::f64, cos, sin);  // longer than the sequence: rows 0..T-1 are used
  check_backward(shape, cos, sin, rng);
}

TEST(RopeSplit, BackwardIsTheExactTransposeForArbitraryTables) {
  // Random tables whose halves differ: the backward must be the transpose of the forward as written,
  // not only of a rotation.
  std::mt19937_64 rng(14);
  const RopeShape shape{1, 3, 2, 1, 6};
  Tensor cos = random_tensor({3, shape.head_dim}, DType::f64, rng);
  Tensor sin = random_tensor({3, shape.head_dim}, DType::f64, rng);
  check_backward(shape, cos, sin, rng);
}

TEST(RopeSplit, Float32MatchesFloat64) {
  CpuBackend backend;
  std::mt19937_64 rng(15);
  const RopeShape shape{2, 40, 4, 2, 16};  // large enough for the parallel path
  const int64_t cache_rows = 48, kv_offset = 5;
  Tensor qkv = random_tensor({shape.batch, shape.seq, shape.width()}, DType::f64, rng);
  const Shape q_shape{shape.batch, shape.seq, shape.q_heads, shape.head_dim};
  const Shape cache_shape{shape.batch, cache_rows, shape.kv_heads, shape.head_dim};
  const Shape kv_shape{shape.batch, shape.seq, shape.kv_heads, shape.head_dim};
  Tensor cos64, sin64, cos32, sin32;
  model_tables(cache_rows, shape.head_dim, DType::f64, cos64, sin64);
  model_tables(cache_rows, shape.head_dim, DType::f32, cos32, sin32);

  Tensor q64 = Tensor::empty(q_shape, DType::f64), k64 = Tensor::zeros(cache_shape, DType::f64);
  Tensor v64 = Tensor::zeros(cache_shape, DType::f64);
  Tensor q32 = Tensor::empty(q_shape, DType::f32), k32 = Tensor::zeros(cache_shape, DType::f32);
  Tensor v32 = Tensor::zeros(cache_shape, DType::f32);
  backend.rope_split_forward(qkv, cos64, sin64, kv_offset, q64, k64, v64);
  backend.rope_split_forward(to_f32(qkv), cos32, sin32, kv_offset, q32, k32, v32);
  EXPECT_LT(relative_error(q32, q64), 1e-6);
  EXPECT_LT(relative_error(k32, k64), 1e-6);
  EXPECT_LT(relative_error(v32, v64), 1e-6);

  Tensor d_q = random_tensor(q_shape, DType::f64, rng), d_k = random_tensor(kv_shape, DType::f64, rng);
  Tensor d_v = random_tensor(kv_shape, DType::f64, rng);
  Tensor d_qkv64 = Tensor::empty(qkv.shape(), DType::f64), d_qkv32 = Tensor::empty(qkv.shape(), DType::f32);
  backend.rope_split_backward(d_q, d_k, d_v, cos64, sin64, d_qkv64);
  backend.rope_split_backward(to_f32(d_q), to_f32(d_k), to_f32(d_v), cos32, sin32, d_qkv32);
  EXPECT_LT(relative_error(d_qkv32, d_qkv64), 1e-6);
}

TEST(RopeSplit, RejectsBadArguments) {
  CpuBackend backend;
  Tensor cos, sin;
  model_tables(8, 4, DType::f64, cos, sin);
  auto zeros = [](const Shape& shape, DType dtype = DType::f64) { return Tensor::zeros(shape, dtype); };
  Tensor qkv = zeros({1, 3, (2 + 2 * 1) * 4}), q = zeros({1, 3, 2, 4}), k = zeros({1, 5, 1, 4});
  Tensor v = zeros({1, 5, 1, 4});
  EXPECT_NO_THROW(backend.rope_split_forward(qkv, cos, sin, 2, q, k, v));

  Tensor wide_qkv = zeros({1, 3, 20});
  EXPECT_THROW(backend.rope_split_forward(wide_qkv, cos, sin, 0, q, k, v), std::invalid_argument);
  EXPECT_THROW(backend.rope_split_forward(qkv, cos, sin, 3, q, k, v),
               std::invalid_argument);  // 3 + 3 > 5 rows
  EXPECT_THROW(backend.rope_split_forward(qkv, cos, sin, -1, q, k, v), std::invalid_argument);
  Tensor short_cos, short_sin;
  model_tables(3, 4, DType::f64, short_cos, short_sin);  // positions 0..2 only
  EXPECT_THROW(backend.rope_split_forward(qkv, short_cos, short_sin, 1, q, k, v), std::invalid_argument);
  Tensor narrow_cos = zeros({8, 2});
  EXPECT_THROW(backend.rope_split_forward(qkv, narrow_cos, narrow_cos, 0, q, k, v), std::invalid_argument);
  Tensor odd_qkv = zeros({1, 3, 12}), odd_q = zeros({1, 3, 2, 3}), odd_k = zeros({1, 5, 1, 3});
  Tensor odd_cos = zeros({8, 3});
  EXPECT_THROW(backend.rope_split_forward(odd_qkv, odd_cos, odd_cos, 0, odd_q, odd_k, odd_k),
               std::invalid_argument);
  Tensor k_other_batch = zeros({2, 5, 1, 4});
  EXPECT_THROW(backend.rope_split_forward(qkv, cos, sin, 0, q, k_other_batch, k_other_batch),
               std::invalid_argument);
  Tensor v_other = zeros({1, 5, 2, 4});
  EXPECT_THROW(backend.rope_split_forward(qkv, cos, sin, 0, q, k, v_other), std::invalid_argument);
  Tensor q32 = zeros({1, 3, 2, 4}, DType::f32);
  EXPECT_THROW(backend.rope_split_forward(qkv, cos, sin, 0, q32, k, v), std::invalid_argument);
  Tensor cos32 = zeros({8, 4}, DType::f32);
  EXPECT_THROW(backend.rope_split_forward(qkv, cos32, cos32, 0, q, k, v), std::invalid_argument);
  Tensor qkv_i32 = zeros({1, 3, 16}, DType::i32), q_i32 = zeros({1, 3, 2, 4}, DType::i32);
  Tensor k_i32 = zeros({1, 5, 1, 4}, DType::i32), cos_i32 = zeros({8, 4}, DType::i32);
  EXPECT_THROW(backend.rope_split_forward(qkv_i32, cos_i32, cos_i32, 0, q_i32, k_i32, k_i32),
               std::invalid_argument);

  Tensor d_q = zeros({1, 3, 2, 4}), d_k = zeros({1, 3, 1, 4}), d_v = zeros({1, 3, 1, 4}),
         d_qkv = zeros({1, 3, 16});
  EXPECT_NO_THROW(backend.rope_split_backward(d_q, d_k, d_v, cos, sin, d_qkv));
  Tensor d_k_cache = zeros({1, 5, 1, 4});
  EXPECT_THROW(backend.rope_split_backward(d_q, d_k_cache, d_k_cache, cos, sin, d_qkv),
               std::invalid_argument);
  EXPECT_THROW(backend.rope_split_backward(d_q, d_k, d_v, cos, sin, wide_qkv), std::invalid_argument);
  Tensor tiny_cos = zeros({2, 4});
  EXPECT_THROW(backend.rope_split_backward(d_q, d_k, d_v, tiny_cos, tiny_cos, d_qkv), std::invalid_argument);

  try {
    backend.rope_split_forward(wide_qkv, cos, sin, 0, q, k, v);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("rope_split_forward"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("16"), std::string::npos) << e.what();  // the expected width
  }
}

}  // namespace
}  // namespace minimind
