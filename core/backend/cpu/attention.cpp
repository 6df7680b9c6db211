// attention: causal grouped-query attention; query head h reads kv head h / (Hq / Hkv), never a copy.
//   P = softmax(scale q k^T over keys s <= offset + t, s < S; padded keys get -1e9 added), out = dropout(P) v
// q, out [B, T, Hq, D]; k, v [B, S_cap, Hkv, D]; lse [B, Hq, T], the row log-sum-exp of the scaled, masked
// scores, is saved for the backward, which recomputes P = exp(scale q k^T + mask - lse) (FlashAttention's
// form: dS = P * (dP - D), D = rowsum(dO * O)) and regenerates the dropout mask from its seed. Work runs per
// (batch, head, block of query rows) as GEMMs on strided in-place views of the heads, and only up to the
// causal limit of each block.
#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/dispatch.h"
#include "backend/cpu/dropout_seed.h"
#include "backend/cpu/openmp_thread_scope.h"

namespace minimind {
namespace {

// Query rows per GEMM block: large enough for efficient products, small enough that the causal triangle
// computed in vain on the diagonal block stays a small fraction of the work.
constexpr int64_t kQueryBlock = 64;
// What the reference model adds to the score of a padded key (in the compute precision).
constexpr double kPaddingScore = -1e9;
// Below this many multiply-adds a call runs on one thread: a parallel region costs more.
constexpr int64_t kParallelWork = 1 << 16;

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// One head of a [.., rows, H, D] tensor seen in place: row r starts H * D elements after row r - 1.
template <typename T>
using ConstHeadView = Eigen::Map<const RowMatrix<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using HeadView = Eigen::Map<RowMatrix<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using RowArray = Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>>;

struct AttentionDims {
  int64_t batch, queries, q_heads, kv_heads, head_dim, cache_rows, keys, query_offset;

  int64_t group() const { return q_heads / kv_heads; }
  // Keys visible to query row t: s <= offset + t and s < S (at least key 0).
  int64_t key_limit(int64_t t) const { return std::min(keys, query_offset + t + 1); }
  int64_t blocks() const { return (queries + kQueryBlock - 1) / kQueryBlock; }
  int64_t block_rows() const { return std::min(kQueryBlock, queries); }
  // Offsets of the first row of a head in q/out and in k/v.
  int64_t query_head(int64_t b, int64_t t, int64_t h) const {
    return ((b * queries + t) * q_heads + h) * head_dim;
  }
  int64_t kv_head(int64_t b, int64_t g) const { return (b * cache_rows * kv_heads + g) * head_dim; }
  // Offset of row t of P for (b, h) in probs [B, Hq, T, S], which is also the base of the dropout index of
  // that row.
  int64_t probs_row(int64_t b, int64_t h, int64_t t) const {
    return ((b * q_heads + h) * queries + t) * keys;
  }
  // Offset of row t for (b, h) in lse [B, Hq, T].
  int64_t lse_row(int64_t b, int64_t h, int64_t t) const { return (b * q_heads + h) * queries + t; }
};

AttentionDims attention_dims(const Tensor& q, const Tensor& k, const AttentionOptions& options) {
  return {q.dim(0), q.dim(1), q.dim(2), k.dim(2), q.dim(3), k.dim(1), options.num_keys, options.query_offset};
}

// Dropout on the attention probabilities: (b, h, t, s) draws the hash of its index in probs.
struct ProbsDropout {
  bool active;
  uint64_t seed;
  uint32_t threshold;
  double keep_scale;

  explicit ProbsDropout(const Dropout& dropout)
      : active(dropout.active()),
        seed(active ? cpu::site_seed(dropout) : 0),
        threshold(active ? dropout_threshold(dropout.probability) : 0),
        keep_scale(active ? 1.0 / (1.0 - dropout.probability) : 1.0) {}

  // factors[s] = 1 / (1 - p) when element first_index + s is kept, else 0. Everything the loop reads is a
  // local, so the compiler vectorizes the hash.
  template <typename T>
  void factors(int64_t first_index, int64_t count, T* out) const {
    const uint64_t local_seed = seed, first = static_cast<uint64_t>(first_index);
    const uint32_t local_threshold = threshold;
    const T kept = static_cast<T>(keep_scale);
    for (int64_t s = 0; s < count; ++s)
      out[s] = dropout_keep(local_seed, first + static_cast<uint64_t>(s), local_threshold) ? kept : T(0);
  }
  // values[s] *= the factor of element first_index + s.
  template <typename T>
  void apply(int64_t first_index, int64_t count, T* values) const {
    const uint64_t local_seed = seed, first = static_cast<uint64_t>(first_index);
    const uint32_t local_threshold = threshold;
    const T kept = static_cast<T>(keep_scale);
    for (int64_t s = 0; s < count; ++s)
      values[s] *= dropout_keep(local_seed, first + static_cast<uint64_t>(s), local_threshold) ? kept : T(0);
  }
};

// Per-thread scratch slots start on 64-byte boundaries, so a task's rows have the same alignment whichever
// thread runs it: Eigen's vectorized reductions (max, sum) group their terms by alignment, and bit-exact
// reruns of a training step depend on it.
template <typename T>
int64_t aligned_slot(int64_t elements) {
  constexpr int64_t per_line = 64 / sizeof(T);
  return (elements + per_line - 1) / per_line * per_line;
}

// The padding as an additive row per batch (0 or -1e9), so the row loops stay vectorizable; empty without a
// key mask.
template <typename T>
std::vector<T> padding_rows(const AttentionDims& dims, const int32_t* key_mask) {
  std::vector<T> padding;
  if (!key_mask) return padding;
  padding.resize(static_cast<size_t>(dims.batch * dims.keys));
  for (int64_t b = 0; b < dims.batch; ++b)
    for (int64_t s = 0; s < dims.keys; ++s)
      padding[b * dims.keys + s] = key_mask[b * dims.cache_rows + s] == 0 ? T(kPaddingScore) : T(0);
  return padding;
}

// What one forward call writes; each pointer may be null. probs (the probe's call) gets every row in full,
// zero past the causal limit, and no dropout.
template <typename T>
struct ForwardOutputs {
  T* out;
  T* lse;
  T* probs;
};

template <typename T>
void forward_kernel(const AttentionDims& dims, const T* q, const T* k, const T* v, const int32_t* key_mask,
                    double scale, const Dropout& dropout, const ForwardOutputs<T>& outputs) {
  const int64_t D = dims.head_dim;
  const ProbsDropout drop(dropout);
  const std::vector<T> padding = padding_rows<T>(dims, key_mask);
  // One block of scores per thread, allocated once per call.
  const int64_t scratch_per_thread = aligned_slot<T>(dims.block_rows() * dims.keys);
  const Tensor scratch_buffer = Tensor::empty({omp_get_max_threads() * scratch_per_thread}, dtype_of<T>());
  T* const scratch = scratch_buffer.data<T>();

  const int64_t tasks = dims.batch * dims.q_heads * dims.blocks();
  const int64_t work = dims.batch * dims.q_heads * dims.queries * dims.keys * D;
#pragma omp parallel for schedule(dynamic, 1) if (work > kParallelWork)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t block = task % dims.blocks(), h = (task / dims.blocks()) % dims.q_heads;
    const int64_t b = task / (dims.blocks() * dims.q_heads);
    const int64_t t0 = block * kQueryBlock, rows = std::min(kQueryBlock, dims.queries - t0);
    const int64_t key_end = dims.key_limit(t0 + rows - 1);  // the block's last row sees the most keys
    const int64_t kv_offset = dims.kv_head(b, h / dims.group());
    const Eigen::OuterStride<> q_stride(dims.q_heads * D), kv_stride(dims.kv_heads * D);
    const ConstHeadView<T> q_block(q + dims.query_head(b, t0, h), rows, D, q_stride);
    const ConstHeadView<T> k_head(k + kv_offset, key_end, D, kv_stride);
    const ConstHeadView<T> v_head(v + kv_offset, key_end, D, kv_stride);

    T* scores_data = scratch + omp_get_thread_num() * scratch_per_thread;
    Eigen::Map<RowMatrix<T>> scores(scores_data, rows, key_end);
    scores.noalias() = (static_cast<T>(scale) * q_block) * k_head.transpose();

    for (int64_t r = 0; r < rows; ++r) {
      const int64_t t = t0 + r, limit = dims.key_limit(t);
      T* row_data = scores_data + r * key_end;
      RowArray<T> row(row_data, limit);
      if (key_mask)
        row += Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>>(padding.data() + b * dims.keys, limit);
      const T max_score = row.maxCoeff();
      row = (row - max_score).exp();
      const T sum = row.sum();
      row *= T(1) / sum;
      if (outputs.lse) outputs.lse[dims.lse_row(b, h, t)] = max_score + std::log(sum);
      std::fill(row_data + limit, row_data + key_end, T(0));
      const int64_t probs_row = dims.probs_row(b, h, t);
      if (outputs.probs) {
        std::copy(row_data, row_data + key_end, outputs.probs + probs_row);
        std::fill(outputs.probs + probs_row + key_end, outputs.probs + probs_row + dims.keys, T(0));
      }
      if (drop.active) drop.apply(probs_row, limit, row_data);
    }
    if (outputs.out) {
      HeadView<T> out_block(outputs.out + dims.query_head(b, t0, h), rows, D, q_stride);
      out_block.noalias() = scores * v_head;
    }
  }
}

// Per (batch, kv head): the group's query heads are looped inside, so d_k and d_v of that kv head have one
// writer and accumulate across the group without races. For each block of query rows:
//   P = exp(scale q k^T + mask - lse)                  (zero past the causal limit)
//   dP = Z * (dO v^T), Z = keep / (1 - p)               (dO v^T is the gradient of the dropped P Z)
//   dS = scale P * (dP - D), D = rowsum(dO * O)         (= rowsum(dP * P): O = (P Z) v)
//   dv += (P Z)^T dO,  dq = dS k,  dk += dS^T q
template <typename T>
void backward_kernel(const AttentionDims& dims, const T* d_out, const T* q, const T* k, const T* v,
                     const T* out, const T* lse, const int32_t* key_mask, double scale,
                     const Dropout& dropout, T* d_q, T* d_k, T* d_v) {
  const int64_t D = dims.head_dim, seq = dims.queries;
  const ProbsDropout drop(dropout);
  const T scale_t = static_cast<T>(scale);
  const std::vector<T> padding = padding_rows<T>(dims, key_mask);
  // Three blocks per thread: P, the dropped P Z, and dP turned into dS in place.
  const int64_t block_elements = aligned_slot<T>(dims.block_rows() * seq);
  const Tensor scratch_buffer = Tensor::empty({omp_get_max_threads() * 3 * block_elements}, dtype_of<T>());
  T* const scratch = scratch_buffer.data<T>();

  const int64_t tasks = dims.batch * dims.kv_heads;
  const int64_t work = dims.batch * dims.q_heads * seq * seq * D;
#pragma omp parallel for schedule(dynamic, 1) if (work > kParallelWork)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t b = task / dims.kv_heads, g = task % dims.kv_heads;
    const Eigen::OuterStride<> q_stride(dims.q_heads * D), kv_stride(dims.kv_heads * D);
    const int64_t kv_offset = dims.kv_head(b, g);
    const ConstHeadView<T> k_head(k + kv_offset, seq, D, kv_stride);
    const ConstHeadView<T> v_head(v + kv_offset, seq, D, kv_stride);
    HeadView<T> dk_head(d_k + kv_offset, seq, D, kv_stride);
    HeadView<T> dv_head(d_v + kv_offset, seq, D, kv_stride);
    dk_head.setZero();
    dv_head.setZero();
    T* probs_data = scratch + omp_get_thread_num() * 3 * block_elements;
    T* dropped_data = probs_data + block_elements;
    T* d_scores_data = dropped_data + block_elements;
    const T* padding_row = key_mask ? padding.data() + b * dims.keys : nullptr;

    for (int64_t h = g * dims.group(); h < (g + 1) * dims.group(); ++h) {
      for (int64_t t0 = 0; t0 < seq; t0 += kQueryBlock) {
        const int64_t rows = std::min(kQueryBlock, seq - t0), key_end = t0 + rows;
        const ConstHeadView<T> q_block(q + dims.query_head(b, t0, h), rows, D, q_stride);
        const ConstHeadView<T> d_out_block(d_out + dims.query_head(b, t0, h), rows, D, q_stride);
        const ConstHeadView<T> out_block(out + dims.query_head(b, t0, h), rows, D, q_stride);
        Eigen::Map<RowMatrix<T>> probs(probs_data, rows, key_end);
        Eigen::Map<RowMatrix<T>> dropped(dropped_data, rows, key_end);
        Eigen::Map<RowMatrix<T>> d_scores(d_scores_data, rows, key_end);
        // The scores as the forward computed them (the same product), then P from the saved lse.
        probs.noalias() = (scale_t * q_block) * k_head.topRows(key_end).transpose();
        d_scores.noalias() = d_out_block * v_head.topRows(key_end).transpose();  // d(dropped P)

        for (int64_t r = 0; r < rows; ++r) {
          const int64_t t = t0 + r, limit = t + 1, probs_row = dims.probs_row(b, h, t);
          T* p = probs_data + r * key_end;
          T* dropped_row = dropped_data + r * key_end;
          T* ds = d_scores_data + r * key_end;
          RowArray<T> p_row(p, limit);
          if (padding_row) p_row += Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>>(padding_row, limit);
          p_row = (p_row - lse[dims.lse_row(b, h, t)]).exp();
          const T d_row = d_out_block.row(r).dot(out_block.row(r));  // D = rowsum(dO * O)
          if (drop.active) {
            drop.factors(probs_row, limit, dropped_row);
            for (int64_t s = 0; s < limit; ++s) {
              ds[s] *= dropped_row[s];  // dP = d(dropped P) Z
              dropped_row[s] *= p[s];
            }
          } else {
            std::copy(p, p + limit, dropped_row);
          }
          for (int64_t s = 0; s < limit; ++s) ds[s] = scale_t * p[s] * (ds[s] - d_row);
          std::fill(dropped_row + limit, dropped_row + key_end, T(0));
          std::fill(ds + limit, ds + key_end, T(0));
        }
        dv_head.topRows(key_end).noalias() += dropped.transpose() * d_out_block;
        HeadView<T> d_q_block(d_q + dims.query_head(b, t0, h), rows, D, q_stride);
        d_q_block.noalias() = d_scores * k_head.topRows(key_end);
        dk_head.topRows(key_end).noalias() += d_scores.transpose() * q_block;
      }
    }
  }
}

}  // namespace

void CpuBackend::do_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                      const Tensor& key_mask, const AttentionOptions& options, Tensor& out,
                                      Tensor& lse) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const AttentionDims dims = attention_dims(q, k, options);
  cpu::dispatch_floating(q.dtype(), "attention_forward", [&](auto zero) {
    using T = decltype(zero);
    forward_kernel<T>(dims, q.data<T>(), k.data<T>(), v.data<T>(),
                      key_mask.defined() ? key_mask.data<int32_t>() : nullptr, options.scale, options.dropout,
                      {out.data<T>(), lse.defined() ? lse.data<T>() : nullptr, nullptr});
  });
}

void CpuBackend::do_attention_probs(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                                    const AttentionOptions& options, Tensor& probs) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const AttentionDims dims = attention_dims(q, k, options);
  cpu::dispatch_floating(q.dtype(), "attention_probs", [&](auto zero) {
    using T = decltype(zero);
    forward_kernel<T>(dims, q.data<T>(), k.data<T>(), v.data<T>(),
                      key_mask.defined() ? key_mask.data<int32_t>() : nullptr, options.scale, Dropout{},
                      {nullptr, nullptr, probs.data<T>()});
  });
}

void CpuBackend::do_attention_backward(const Tensor& d_out, const Tensor& q, const Tensor& k, const Tensor& v,
                                       const Tensor& out, const Tensor& lse, const Tensor& key_mask,
                                       const AttentionOptions& options, Tensor& d_q, Tensor& d_k,
                                       Tensor& d_v) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const AttentionDims dims = attention_dims(q, k, options);
  cpu::dispatch_floating(q.dtype(), "attention_backward", [&](auto zero) {
    using T = decltype(zero);
    backward_kernel<T>(dims, d_out.data<T>(), q.data<T>(), k.data<T>(), v.data<T>(), out.data<T>(),
                       lse.data<T>(), key_mask.defined() ? key_mask.data<int32_t>() : nullptr, options.scale,
                       options.dropout, d_q.data<T>(), d_k.data<T>(), d_v.data<T>());
  });
}

}  // namespace minimind
