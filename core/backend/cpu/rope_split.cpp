// rope_split: the fused projection qkv [B, T, (Hq + 2 Hkv) D] split into q [B, T, Hq, D] and rows
// kv_offset .. kv_offset + T - 1 of k, v [B, S_cap, Hkv, D], with the rotary embedding (rotate-half) applied
// to q and k at position p = kv_offset + t:  out[i] = x[i] cos[p, i] + rotate_half(x)[i] sin[p, i]. Nothing
// is saved: the backward is the transpose of this linear map and only needs the cos/sin tables.
#include <stdexcept>
#include <string>
#include <utility>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/dispatch.h"
#include "backend/cpu/openmp_thread_scope.h"

namespace minimind {
namespace {

// Rows of work below this many elements run on one thread: a parallel region costs more than they do.
constexpr int64_t kParallelElements = 1 << 15;

[[noreturn]] void rope_error(std::string_view op, const std::string& message) {
  throw std::invalid_argument(std::string(op) + ": " + message);
}

struct RopeDims {
  int64_t batch, seq, q_heads, kv_heads, head_dim;
  int64_t qkv_width() const { return (q_heads + 2 * kv_heads) * head_dim; }
};

// Checks the cos/sin tables against the head dim and the last position used.
void check_tables(const Tensor& cos, const Tensor& sin, DType dtype, int64_t head_dim, int64_t last_position,
                  std::string_view op) {
  expect_rank(cos, 2, op, "cos");
  expect_dtype(cos, dtype, op, "cos");
  expect_shape(sin, cos.shape(), op, "sin");
  expect_dtype(sin, dtype, op, "sin");
  if (cos.dim(1) != head_dim)
    rope_error(op, "cos/sin rows should have the head dim " + std::to_string(head_dim) + " entries, got " +
                       cos.describe());
  if (last_position >= cos.dim(0))
    rope_error(op, "position " + std::to_string(last_position) + " is outside the rope table of " +
                       std::to_string(cos.dim(0)) + " positions");
}

void check_head_dim(int64_t head_dim, std::string_view op) {
  if (head_dim <= 0 || head_dim % 2 != 0)
    rope_error(op, "the head dim must be even and positive for rotate-half, got " + std::to_string(head_dim));
}

// y = rope(x) for one head at one position. First half: x1 cos - x2 sin; second half: x2 cos + x1 sin.
template <typename T>
inline void rotate(const T* x, const T* cos, const T* sin, int64_t head_dim, T* y) {
  const int64_t half = head_dim / 2;
  for (int64_t i = 0; i < half; ++i) y[i] = x[i] * cos[i] - x[i + half] * sin[i];
  for (int64_t i = half; i < head_dim; ++i) y[i] = x[i] * cos[i] + x[i - half] * sin[i];
}

// d_x = rope^T(d_y): the transpose of `rotate`, exact for any table (not only tables with equal halves).
template <typename T>
inline void rotate_transpose(const T* d_y, const T* cos, const T* sin, int64_t head_dim, T* d_x) {
  const int64_t half = head_dim / 2;
  for (int64_t i = 0; i < half; ++i) d_x[i] = d_y[i] * cos[i] + d_y[i + half] * sin[i + half];
  for (int64_t i = half; i < head_dim; ++i) d_x[i] = d_y[i] * cos[i] - d_y[i - half] * sin[i - half];
}

}  // namespace

void CpuBackend::rope_split_forward(const Tensor& qkv, const Tensor& cos, const Tensor& sin,
                                    int64_t kv_offset, Tensor& q, Tensor& k, Tensor& v) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  constexpr std::string_view op = "rope_split_forward";
  expect_rank(qkv, 3, op, "qkv");
  expect_rank(q, 4, op, "q");
  expect_rank(k, 4, op, "k");
  const RopeDims dims{qkv.dim(0), qkv.dim(1), q.dim(2), k.dim(2), q.dim(3)};
  const int64_t cache_rows = k.dim(1);
  check_head_dim(dims.head_dim, op);
  expect_shape(q, {dims.batch, dims.seq, dims.q_heads, dims.head_dim}, op, "q");
  if (dims.q_heads <= 0) rope_error(op, "q should have at least one head, got " + q.describe());
  if (k.dim(0) != dims.batch || k.dim(3) != dims.head_dim || dims.kv_heads <= 0)
    rope_error(op, "k should have shape [" + std::to_string(dims.batch) + ", S_cap, Hkv, " +
                       std::to_string(dims.head_dim) + "], got " + k.describe());
  expect_shape(v, k.shape(), op, "v");
  if (qkv.dim(2) != dims.qkv_width())
    rope_error(op, "qkv's last dim should be (Hq + 2 Hkv) D = (" + std::to_string(dims.q_heads) + " + 2 * " +
                       std::to_string(dims.kv_heads) + ") * " + std::to_string(dims.head_dim) + " = " +
                       std::to_string(dims.qkv_width()) + ", got " + qkv.describe());
  if (kv_offset < 0 || kv_offset + dims.seq > cache_rows)
    rope_error(op, "rows " + std::to_string(kv_offset) + " .. " + std::to_string(kv_offset + dims.seq - 1) +
                       " do not fit k/v with " + std::to_string(cache_rows) + " rows");
  const std::pair<const Tensor*, const char*> outputs[] = {{&q, "q"}, {&k, "k"}, {&v, "v"}};
  for (const auto& [tensor, name] : outputs) expect_dtype(*tensor, qkv.dtype(), op, name);
  check_tables(cos, sin, qkv.dtype(), dims.head_dim, kv_offset + dims.seq - 1, op);

  cpu::dispatch_floating(qkv.dtype(), op, [&](auto zero) {
    using T = decltype(zero);
    const T* qkv_data = qkv.data<T>();
    const T* cos_data = cos.data<T>();
    const T* sin_data = sin.data<T>();
    T* q_data = q.data<T>();
    T* k_data = k.data<T>();
    T* v_data = v.data<T>();
    const int64_t D = dims.head_dim, Hq = dims.q_heads, Hkv = dims.kv_heads, seq = dims.seq;
    const int64_t rows = dims.batch * seq;
#pragma omp parallel for schedule(static) if (rows * dims.qkv_width() > kParallelElements)
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t b = row / seq, t = row % seq, position = kv_offset + t;
      const T* c = cos_data + position * D;
      const T* s = sin_data + position * D;
      const T* x = qkv_data + row * dims.qkv_width();
      T* q_row = q_data + row * Hq * D;
      const int64_t cache_row = b * cache_rows + position;
      T* k_row = k_data + cache_row * Hkv * D;
      T* v_row = v_data + cache_row * Hkv * D;
      for (int64_t h = 0; h < Hq; ++h) rotate(x + h * D, c, s, D, q_row + h * D);
      x += Hq * D;
      for (int64_t h = 0; h < Hkv; ++h) rotate(x + h * D, c, s, D, k_row + h * D);
      x += Hkv * D;
      for (int64_t i = 0; i < Hkv * D; ++i) v_row[i] = x[i];
    }
  });
}

void CpuBackend::rope_split_backward(const Tensor& d_q, const Tensor& d_k, const Tensor& d_v,
                                     const Tensor& cos, const Tensor& sin, Tensor& d_qkv) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  constexpr std::string_view op = "rope_split_backward";
  expect_rank(d_q, 4, op, "d_q");
  expect_rank(d_k, 4, op, "d_k");
  const RopeDims dims{d_q.dim(0), d_q.dim(1), d_q.dim(2), d_k.dim(2), d_q.dim(3)};
  check_head_dim(dims.head_dim, op);
  expect_shape(d_k, {dims.batch, dims.seq, dims.kv_heads, dims.head_dim}, op, "d_k");
  expect_shape(d_v, d_k.shape(), op, "d_v");
  expect_shape(d_qkv, {dims.batch, dims.seq, dims.qkv_width()}, op, "d_qkv");
  const std::pair<const Tensor*, const char*> others[] = {{&d_k, "d_k"}, {&d_v, "d_v"}, {&d_qkv, "d_qkv"}};
  for (const auto& [tensor, name] : others) expect_dtype(*tensor, d_q.dtype(), op, name);
  check_tables(cos, sin, d_q.dtype(), dims.head_dim, dims.seq - 1, op);

  cpu::dispatch_floating(d_q.dtype(), op, [&](auto zero) {
    using T = decltype(zero);
    const T* cos_data = cos.data<T>();
    const T* sin_data = sin.data<T>();
    const T* dq_data = d_q.data<T>();
    const T* dk_data = d_k.data<T>();
    const T* dv_data = d_v.data<T>();
    T* out = d_qkv.data<T>();
    const int64_t D = dims.head_dim, Hq = dims.q_heads, Hkv = dims.kv_heads, seq = dims.seq;
    const int64_t rows = dims.batch * seq;
#pragma omp parallel for schedule(static) if (rows * dims.qkv_width() > kParallelElements)
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t position = row % seq;
      const T* c = cos_data + position * D;
      const T* s = sin_data + position * D;
      T* d_x = out + row * dims.qkv_width();
      const T* dq_row = dq_data + row * Hq * D;
      const T* dk_row = dk_data + row * Hkv * D;
      const T* dv_row = dv_data + row * Hkv * D;
      for (int64_t h = 0; h < Hq; ++h) rotate_transpose(dq_row + h * D, c, s, D, d_x + h * D);
      d_x += Hq * D;
      for (int64_t h = 0; h < Hkv; ++h) rotate_transpose(dk_row + h * D, c, s, D, d_x + h * D);
      d_x += Hkv * D;
      for (int64_t i = 0; i < Hkv * D; ++i) d_x[i] = dv_row[i];
    }
  });
}

}  // namespace minimind
