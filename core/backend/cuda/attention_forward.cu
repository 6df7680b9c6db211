// attention forward and the probe's probabilities: causal grouped-query attention; query head h reads kv
// head h / (Hq / Hkv).
//   P = softmax(scale q k^T + padding over keys s <= offset + t, s < S), out = dropout(P) v,
//   lse [B, Hq, T] = the row log-sum-exp (f32), which the backward uses to recompute P.
// q, out [B, T, Hq, D]; k, v [B, S_cap, Hkv, D]; key_mask i32 [B, S_cap] (0: the key's score gets -1e9).
// Design: a block (4 warps) owns 16 query rows of one (batch, kv head), taken from the group's heads and
// positions (QueryTile), and walks the keys they see in chunks of 32 staged in shared memory (f32; the key
// rows padded to an odd stride, so the lane-per-key products hit distinct banks). Each warp carries 4 rows;
// per chunk, lane j scores key j of the chunk against the row, the row's running max and sum take the
// chunk (online softmax, f32), and each lane then accumulates its head dims (l, l + 32, ...) of P v.
// A padded key adds -1e9; done naively in f32, that addition would round away the scores of a row that
// sees only padded keys. The padding is kept as a second level instead: a row's running max and sum hold
// only its unpadded keys once it has seen one (the padded ones then weigh exp(-1e9) = 0 exactly), or all
// its keys while it has seen none (the common -1e9 cancels in the softmax). lse adds -1e9 to such a row.
// Limits: D at most 256 (kMaxHeadDim); shared memory (80 D + 32) * 4 bytes, 82 KB at D = 256.
#include <cmath>

#include "backend/cuda/attention_common.cuh"
#include "backend/cuda/cuda_backend.h"

namespace minimind {
namespace cuda {
namespace {

// A row's online softmax: max and sum over the keys that count, and whether those are the unpadded ones.
struct RowSoftmax {
  float max = -INFINITY;
  float sum = 0.0f;
  bool unpadded = false;
};

// Takes one chunk into a row (the whole warp calls it; lane j holds key j's score and flags). Returns false
// when nothing in the chunk counts for the row. Else sets `p` to exp(score - new max) for this lane's key
// (0 when the key does not count) and `correction` to the factor for what the row accumulated before (0
// when the row has just met its first unpadded key, which discards the padded keys seen so far).
__device__ bool online_softmax_step(RowSoftmax& row, float score, bool visible, bool padded_key, float& p,
                                    float& correction) {
  bool reset = false;
  if (!row.unpadded && __any_sync(0xffffffffu, visible && !padded_key)) {
    row = RowSoftmax{-INFINITY, 0.0f, true};
    reset = true;
  }
  const bool counts = visible && !(row.unpadded && padded_key);
  const float chunk_max = warp_max(counts ? score : -INFINITY);
  if (chunk_max == -INFINITY) return false;
  const float new_max = fmaxf(row.max, chunk_max);
  correction = reset ? 0.0f : expf(row.max - new_max);
  p = counts ? expf(score - new_max) : 0.0f;
  row.sum = row.sum * correction + warp_sum(p);
  row.max = new_max;
  return true;
}

// Whether key s is padded (s < key_end keeps the read inside the tensor).
__device__ bool key_padded(const int32_t* key_mask, const AttentionShape& shape, int64_t b, int64_t s,
                           int64_t key_end) {
  return key_mask && s < key_end && key_mask[b * shape.cache_rows + s] == 0;
}

template <typename T, int kDimsPerLane>
__global__ void __launch_bounds__(kAttentionThreads, 1)
    attention_forward_kernel(AttentionShape shape, ProbsDropout dropout, const T* __restrict__ q,
                             const T* __restrict__ k, const T* __restrict__ v,
                             const int32_t* __restrict__ key_mask, T* __restrict__ out,
                             float* __restrict__ lse) {
  extern __shared__ float shared[];
  const int D = static_cast<int>(shape.head_dim), key_stride = D + 1;
  float* q_tile = shared;                          // [kTileRows][D]
  float* k_chunk = q_tile + kTileRows * D;         // [kChunk][D + 1]
  float* v_chunk = k_chunk + kChunk * key_stride;  // [kChunk][D]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const QueryTile tile = QueryTile::of_block(shape);
  const int64_t b = tile.b, g = tile.g;

  stage_tile_rows(q, shape, tile, q_tile);
  const int64_t key_end = tile_key_end(shape, tile);
  const uint64_t seed = dropout.step_seed ? dropout.site_seed() : 0;

  TileRow rows[kRowsPerWarp];
  RowSoftmax softmax[kRowsPerWarp];
  float acc[kRowsPerWarp][kDimsPerLane];
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; ++i) {
    rows[i] = TileRow::at(shape, tile, warp * kRowsPerWarp + i);
#pragma unroll
    for (int c = 0; c < kDimsPerLane; ++c) acc[i][c] = 0.0f;
  }

  for (int64_t c0 = 0; c0 < key_end; c0 += kChunk) {
    __syncthreads();  // the previous chunk (or the q tile) is in place / consumed
    const auto key_row = [=](int j) { return c0 + j < key_end ? shape.key_at(b, c0 + j, g) : int64_t{-1}; };
    stage_rows(k, kChunk, D, key_row, k_chunk, key_stride);
    stage_rows(v, kChunk, D, key_row, v_chunk, D);
    __syncthreads();
    const int chunk_keys = static_cast<int>(c0 + kChunk < key_end ? kChunk : key_end - c0);
    const int64_t s = c0 + lane;
    const bool padded_key = key_padded(key_mask, shape, b, s, key_end);
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; ++i) {
      if (!rows[i].valid || c0 >= rows[i].limit) continue;  // uniform over the warp
      const bool visible = s < rows[i].limit;
      const float score =
          visible ? shape.scale * dot(q_tile + (warp * kRowsPerWarp + i) * D, k_chunk + lane * key_stride, D)
                  : -INFINITY;
      float p = 0.0f, correction = 0.0f;
      if (!online_softmax_step(softmax[i], score, visible, padded_key, p, correction)) continue;
      // Dropout scales what reaches v, not the normalizer.
      const float weight =
          p > 0.0f ? p * dropout.factor(seed, shape.row_index(b, rows[i].h, rows[i].t) * shape.keys + s)
                   : 0.0f;
#pragma unroll
      for (int c = 0; c < kDimsPerLane; ++c) acc[i][c] *= correction;
      for (int j = 0; j < chunk_keys; ++j) {
        const float w = __shfl_sync(0xffffffffu, weight, j);
        const float* value = v_chunk + j * D;
#pragma unroll
        for (int c = 0; c < kDimsPerLane; ++c) {
          const int d = lane + 32 * c;
          if (d < D) acc[i][c] = fmaf(w, value[d], acc[i][c]);
        }
      }
    }
  }

#pragma unroll
  for (int i = 0; i < kRowsPerWarp; ++i) {
    if (!rows[i].valid) continue;
    const float inverse_sum = 1.0f / softmax[i].sum;
    T* out_row = out + shape.query_at(b, rows[i].t, rows[i].h);
#pragma unroll
    for (int c = 0; c < kDimsPerLane; ++c) {
      const int d = lane + 32 * c;
      if (d < D) out_row[d] = from_float<T>(acc[i][c] * inverse_sum);
    }
    if (lse && lane == 0)
      lse[shape.row_index(b, rows[i].h, rows[i].t)] =
          softmax[i].max + logf(softmax[i].sum) + (softmax[i].unpadded ? 0.0f : kPaddingScore);
  }
}

// The probabilities of the same rows: a first pass over the keys finds each row's max and sum, a second
// recomputes the scores and writes P where the key is visible (the rest of probs is zeroed before).
template <typename T>
__global__ void __launch_bounds__(kAttentionThreads, 1)
    attention_probs_kernel(AttentionShape shape, const T* __restrict__ q, const T* __restrict__ k,
                           const int32_t* __restrict__ key_mask, float* __restrict__ probs) {
  extern __shared__ float shared[];
  const int D = static_cast<int>(shape.head_dim), key_stride = D + 1;
  float* q_tile = shared;                   // [kTileRows][D]
  float* k_chunk = q_tile + kTileRows * D;  // [kChunk][D + 1]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const QueryTile tile = QueryTile::of_block(shape);
  const int64_t b = tile.b, g = tile.g;

  stage_tile_rows(q, shape, tile, q_tile);
  const int64_t key_end = tile_key_end(shape, tile);

  TileRow rows[kRowsPerWarp];
  RowSoftmax softmax[kRowsPerWarp];
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; ++i) rows[i] = TileRow::at(shape, tile, warp * kRowsPerWarp + i);

  for (int pass = 0; pass < 2; ++pass) {
    for (int64_t c0 = 0; c0 < key_end; c0 += kChunk) {
      __syncthreads();
      stage_rows(
          k, kChunk, D, [=](int j) { return c0 + j < key_end ? shape.key_at(b, c0 + j, g) : int64_t{-1}; },
          k_chunk, key_stride);
      __syncthreads();
      const int64_t s = c0 + lane;
      const bool padded_key = key_padded(key_mask, shape, b, s, key_end);
#pragma unroll
      for (int i = 0; i < kRowsPerWarp; ++i) {
        if (!rows[i].valid || c0 >= rows[i].limit) continue;
        const bool visible = s < rows[i].limit;
        const float score = visible ? shape.scale * dot(q_tile + (warp * kRowsPerWarp + i) * D,
                                                        k_chunk + lane * key_stride, D)
                                    : -INFINITY;
        if (pass == 0) {
          float p, correction;
          online_softmax_step(softmax[i], score, visible, padded_key, p, correction);
        } else if (visible) {
          const bool counts = !(softmax[i].unpadded && padded_key);
          probs[shape.row_index(b, rows[i].h, rows[i].t) * shape.keys + s] =
              counts ? expf(score - softmax[i].max) / softmax[i].sum : 0.0f;
        }
      }
    }
  }
}

size_t forward_shared_bytes(int64_t head_dim) {
  return static_cast<size_t>(kTileRows * head_dim + kChunk * (head_dim + 1) + kChunk * head_dim) *
         sizeof(float);
}

unsigned grid_size(int64_t blocks, const char* op) {
  if (blocks > 0x7fffffff)
    throw std::invalid_argument(std::string(op) + ": too many query rows for one launch");
  return static_cast<unsigned>(blocks);
}

}  // namespace

template <typename T>
void launch_attention_forward(const AttentionShape& shape, const ProbsDropout& dropout, const T* q,
                              const T* k, const T* v, const int32_t* key_mask, T* out, float* lse,
                              cudaStream_t stream) {
  const int64_t blocks = QueryTile::blocks(shape);
  if (blocks == 0) return;
  const unsigned grid = grid_size(blocks, "attention_forward");
  const size_t shared_bytes = forward_shared_bytes(shape.head_dim);
  dispatch_dims_per_lane(shape.head_dim, [&](auto dims_per_lane) {
    const auto kernel = attention_forward_kernel<T, decltype(dims_per_lane)::value>;
    allow_shared_memory(kernel, shared_bytes);
    kernel<<<grid, kAttentionThreads, shared_bytes, stream>>>(shape, dropout, q, k, v, key_mask, out, lse);
    CUDA_CHECK_LAUNCH("attention_forward_kernel");
  });
}

template <typename T>
void launch_attention_probs(const AttentionShape& shape, const T* q, const T* k, const int32_t* key_mask,
                            float* probs, cudaStream_t stream) {
  const int64_t blocks = QueryTile::blocks(shape);
  if (blocks == 0) return;
  const unsigned grid = grid_size(blocks, "attention_probs");
  dims_per_lane(shape.head_dim);  // checks the head dim
  CUDA_CHECK(cudaMemsetAsync(
      probs, 0, static_cast<size_t>(shape.batch * shape.q_heads * shape.queries * shape.keys) * sizeof(float),
      stream));
  const size_t shared_bytes =
      static_cast<size_t>(kTileRows * shape.head_dim + kChunk * (shape.head_dim + 1)) * sizeof(float);
  const auto kernel = attention_probs_kernel<T>;
  allow_shared_memory(kernel, shared_bytes);
  kernel<<<grid, kAttentionThreads, shared_bytes, stream>>>(shape, q, k, key_mask, probs);
  CUDA_CHECK_LAUNCH("attention_probs_kernel");
}

template void launch_attention_forward<float>(const AttentionShape&, const ProbsDropout&, const float*,
                                              const float*, const float*, const int32_t*, float*, float*,
                                              cudaStream_t);
template void launch_attention_forward<bf16>(const AttentionShape&, const ProbsDropout&, const bf16*,
                                             const bf16*, const bf16*, const int32_t*, bf16*, float*,
                                             cudaStream_t);
template void launch_attention_probs<float>(const AttentionShape&, const float*, const float*, const int32_t*,
                                            float*, cudaStream_t);
template void launch_attention_probs<bf16>(const AttentionShape&, const bf16*, const bf16*, const int32_t*,
                                           float*, cudaStream_t);

}  // namespace cuda

void CudaBackend::do_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                       const Tensor& key_mask, const AttentionOptions& options, Tensor& out,
                                       Tensor& lse) {
  const cuda::AttentionShape shape = cuda::attention_shape(q, k, options);
  const cuda::ProbsDropout dropout = cuda::probs_dropout(options.dropout);
  const int32_t* mask = key_mask.defined() ? cuda::device_data<int32_t>(key_mask) : nullptr;
  float* lse_data = lse.defined() ? cuda::device_data<float>(lse) : nullptr;
  cuda::dispatch_compute(q.dtype(), "attention_forward", [&](auto zero) {
    using T = decltype(zero);
    cuda::launch_attention_forward<T>(shape, dropout, cuda::device_data<T>(q), cuda::device_data<T>(k),
                                      cuda::device_data<T>(v), mask, cuda::device_data<T>(out), lse_data,
                                      stream());
  });
}

void CudaBackend::do_attention_probs(const Tensor& q, const Tensor& k, const Tensor& v,
                                     const Tensor& key_mask, const AttentionOptions& options, Tensor& probs) {
  (void)v;  // the probabilities do not read the values
  const cuda::AttentionShape shape = cuda::attention_shape(q, k, options);
  const int32_t* mask = key_mask.defined() ? cuda::device_data<int32_t>(key_mask) : nullptr;
  cuda::dispatch_compute(q.dtype(), "attention_probs", [&](auto zero) {
    using T = decltype(zero);
    cuda::launch_attention_probs<T>(shape, cuda::device_data<T>(q), cuda::device_data<T>(k), mask,
                                    cuda::device_data<float>(probs), stream());
  });
}

}  // namespace minimind
