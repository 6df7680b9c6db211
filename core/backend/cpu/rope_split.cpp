// rope_split: the fused projection qkv [B, T, (Hq + 2 Hkv) D] split into q [B, T, Hq, D] and rows
// kv_offset .. kv_offset + T - 1 of k, v [B, S_cap, Hkv, D], with the rotary embedding (rotate-half) applied
// to q and k at position p = kv_offset + t:  out[i] = x[i] cos[p, i] + rotate_half(x)[i] sin[p, i]. Nothing
// is saved: the backward is the transpose of this linear map and only needs the cos/sin tables.

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/dispatch.h"
#include "backend/cpu/openmp_thread_scope.h"

namespace minimind {
namespace {

// Rows of work below this many elements run on one thread: a parallel region costs more than they do.
constexpr int64_t kParallelElements = 1 << 15;

struct RopeDims {
  int64_t batch, seq, q_heads, kv_heads, head_dim;
  int64_t qkv_width() const { return (q_heads + 2 * kv_heads) * head_dim; }
};

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

void CpuBackend::do_rope_split_forward(const Tensor& qkv, const Tensor& cos, const Tensor& sin,
                                       int64_t kv_offset, Tensor& q, Tensor& k, Tensor& v) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const RopeDims dims{qkv.dim(0), qkv.dim(1), q.dim(2), k.dim(2), q.dim(3)};
  const int64_t cache_rows = k.dim(1);

  cpu::dispatch_floating(qkv.dtype(), "rope_split_forward", [&](auto zero) {
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

void CpuBackend::do_rope_split_backward(const Tensor& d_q, const Tensor& d_k, const Tensor& d_v,
                                        const Tensor& cos, const Tensor& sin, Tensor& d_qkv) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const RopeDims dims{d_q.dim(0), d_q.dim(1), d_q.dim(2), d_k.dim(2), d_q.dim(3)};

  cpu::dispatch_floating(d_q.dtype(), "rope_split_backward", [&](auto zero) {
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
