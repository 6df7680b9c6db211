// attention backward (training shapes: S = S_cap = T, offset 0) by recomputation, FlashAttention-2 style:
//   P_ts = exp(scale q_t.k_s + padding_s - lse_t), delta_t = rowsum(dO_t * O_t), dP_ts = Z_ts dO_t.v_s,
//   dS_ts = P_ts (dP_ts - delta_t), d_q_t = scale sum_s dS_ts k_s,
//   d_k_s = scale sum_t dS_ts q_t, d_v_s = sum_t Z_ts P_ts dO_t (sums over the kv group's query heads),
// with Z the dropout factor (keep / (1 - p)) regenerated from the seed. Nothing is saved but lse; delta is
// recomputed by each block for its rows (cheap) so the backward needs no workspace.
// Two kernels, no atomics, deterministic:
// - d_q: a block owns 16 query rows of one (batch, kv head) (QueryTile, as the forward) and walks their
//   keys in chunks of 32 staged in shared memory; lane j handles key j of the chunk, then each lane sums
//   its head dims of dS k.
// - d_k, d_v: a block owns 16 keys of one (batch, kv head) (4 per warp, accumulated in registers) and walks
//   the query rows that see them, head by head of the group, in chunks of 32 staged in shared memory; lane
//   j handles row j of the chunk, then each lane sums its head dims of dS q and Z P dO.
// A row that saw only padded keys has a saved lse near -1e9 that lost its digits in f32; its lse over the
// scores without the padding is recomputed (unmasked_row_lse), and P for it ignores the padding, as the
// forward did.
// Limits: D at most 256; shared memory about 100 KB at D = 256.
#include <cmath>

#include "backend/cuda/attention_common.cuh"
#include "backend/cuda/cuda_backend.h"

namespace minimind {
namespace cuda {
namespace {

constexpr int kKeysPerWarp = 4;
constexpr int kTileKeys = kAttentionWarps * kKeysPerWarp;  // keys per block of the d_k, d_v kernel

// delta_t = dO_t . O_t by a warp; dO_t in f32 (shared memory), O_t as the forward wrote it.
template <typename T>
__device__ float row_delta(const float* d_out_row, const T* out_row, int head_dim) {
  float sum = 0.0f;
  for (int d = threadIdx.x % 32; d < head_dim; d += 32) sum = fmaf(d_out_row[d], to_float(out_row[d]), sum);
  return warp_sum(sum);
}

// A row's lse for recomputing P, and whether the padding applies to its keys (see the file's header).
struct RowStatistics {
  float lse;
  float delta;
  bool padding_applies;
};

template <typename T>
__device__ RowStatistics row_statistics(const AttentionShape& shape, int64_t b, int64_t h, int64_t t,
                                        const float* q_row, const float* d_out_row, const T* k, const T* out,
                                        const float* lse) {
  RowStatistics row;
  row.delta = row_delta(d_out_row, out + shape.query_at(b, t, h), static_cast<int>(shape.head_dim));
  row.lse = lse[shape.row_index(b, h, t)];
  row.padding_applies = row.lse >= kPaddedRowLse;
  if (!row.padding_applies) {
    const int64_t g = h / shape.group();
    row.lse = unmasked_row_lse(q_row, k + shape.key_at(b, 0, g), shape.kv_heads * shape.head_dim,
                               static_cast<int>(shape.head_dim), shape.key_limit(t), shape.scale);
  }
  return row;
}

template <typename T, int kDimsPerLane>
__global__ void __launch_bounds__(kAttentionThreads, 1)
    attention_backward_query_kernel(AttentionShape shape, ProbsDropout dropout, const T* __restrict__ d_out,
                                    const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                    const T* __restrict__ out, const float* __restrict__ lse,
                                    const int32_t* __restrict__ key_mask, T* __restrict__ d_q) {
  extern __shared__ float shared[];
  const int D = static_cast<int>(shape.head_dim), key_stride = D + 1;
  float* q_tile = shared;                          // [kTileRows][D]
  float* d_out_tile = q_tile + kTileRows * D;      // [kTileRows][D]
  float* k_chunk = d_out_tile + kTileRows * D;     // [kChunk][D + 1]
  float* v_chunk = k_chunk + kChunk * key_stride;  // [kChunk][D + 1]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const QueryTile tile = QueryTile::of_block(shape);
  const int64_t b = tile.b, g = tile.g;

  stage_tile_rows(q, shape, tile, q_tile);
  stage_tile_rows(d_out, shape, tile, d_out_tile);
  const int64_t key_end = tile_key_end(shape, tile);
  const uint64_t seed = dropout.step_seed ? dropout.site_seed() : 0;
  __syncthreads();

  TileRow rows[kRowsPerWarp];
  RowStatistics statistics[kRowsPerWarp];
  float acc[kRowsPerWarp][kDimsPerLane];
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; ++i) {
    const int r = warp * kRowsPerWarp + i;
    rows[i] = TileRow::at(shape, tile, r);
    if (rows[i].valid)
      statistics[i] =
          row_statistics(shape, b, rows[i].h, rows[i].t, q_tile + r * D, d_out_tile + r * D, k, out, lse);
#pragma unroll
    for (int c = 0; c < kDimsPerLane; ++c) acc[i][c] = 0.0f;
  }

  for (int64_t c0 = 0; c0 < key_end; c0 += kChunk) {
    __syncthreads();
    const auto key_row = [=](int j) { return c0 + j < key_end ? shape.key_at(b, c0 + j, g) : int64_t{-1}; };
    stage_rows(k, kChunk, D, key_row, k_chunk, key_stride);
    stage_rows(v, kChunk, D, key_row, v_chunk, key_stride);
    __syncthreads();
    const int chunk_keys = static_cast<int>(c0 + kChunk < key_end ? kChunk : key_end - c0);
    const int64_t s = c0 + lane;
    const bool padded_key = key_mask && s < key_end && key_mask[b * shape.cache_rows + s] == 0;
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; ++i) {
      if (!rows[i].valid || c0 >= rows[i].limit) continue;  // uniform over the warp
      const int r = warp * kRowsPerWarp + i;
      float d_score = 0.0f;
      if (s < rows[i].limit) {
        float score = shape.scale * dot(q_tile + r * D, k_chunk + lane * key_stride, D);
        if (padded_key && statistics[i].padding_applies) score += kPaddingScore;
        const float p = expf(score - statistics[i].lse);
        const float z = dropout.factor(seed, shape.row_index(b, rows[i].h, rows[i].t) * shape.keys + s);
        const float d_p = z * dot(d_out_tile + r * D, v_chunk + lane * key_stride, D);
        d_score = p * (d_p - statistics[i].delta);
      }
      for (int j = 0; j < chunk_keys; ++j) {
        const float w = __shfl_sync(0xffffffffu, d_score, j);
        const float* key = k_chunk + j * key_stride;
#pragma unroll
        for (int c = 0; c < kDimsPerLane; ++c) {
          const int d = lane + 32 * c;
          if (d < D) acc[i][c] = fmaf(w, key[d], acc[i][c]);
        }
      }
    }
  }

#pragma unroll
  for (int i = 0; i < kRowsPerWarp; ++i) {
    if (!rows[i].valid) continue;
    T* d_q_row = d_q + shape.query_at(b, rows[i].t, rows[i].h);
#pragma unroll
    for (int c = 0; c < kDimsPerLane; ++c) {
      const int d = lane + 32 * c;
      if (d < D) d_q_row[d] = from_float<T>(shape.scale * acc[i][c]);
    }
  }
}

template <typename T, int kDimsPerLane>
__global__ void __launch_bounds__(kAttentionThreads, 1)
    attention_backward_key_kernel(AttentionShape shape, ProbsDropout dropout, const T* __restrict__ d_out,
                                  const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                  const T* __restrict__ out, const float* __restrict__ lse,
                                  const int32_t* __restrict__ key_mask, T* __restrict__ d_k,
                                  T* __restrict__ d_v) {
  extern __shared__ float shared[];
  const int D = static_cast<int>(shape.head_dim), row_stride = D + 1;
  float* k_tile = shared;                                                     // [kTileKeys][D]
  float* v_tile = k_tile + kTileKeys * D;                                     // [kTileKeys][D]
  float* q_chunk = v_tile + kTileKeys * D;                                    // [kChunk][D + 1]
  float* d_out_chunk = q_chunk + kChunk * row_stride;                         // [kChunk][D + 1]
  float* chunk_lse = d_out_chunk + kChunk * row_stride;                       // [kChunk]
  float* chunk_delta = chunk_lse + kChunk;                                    // [kChunk]
  int* chunk_padding_applies = reinterpret_cast<int*>(chunk_delta + kChunk);  // [kChunk]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  const int64_t tiles = (shape.keys + kTileKeys - 1) / kTileKeys, block = blockIdx.x;
  const int64_t b = block / (tiles * shape.kv_heads), g = (block / tiles) % shape.kv_heads;
  const int64_t s0 = (block % tiles) * kTileKeys;
  const auto key_row = [=](int j) { return s0 + j < shape.keys ? shape.key_at(b, s0 + j, g) : int64_t{-1}; };
  stage_rows(k, kTileKeys, D, key_row, k_tile, D);
  stage_rows(v, kTileKeys, D, key_row, v_tile, D);
  const uint64_t seed = dropout.step_seed ? dropout.site_seed() : 0;
  // The first query row that sees key s0.
  const int64_t first_row = s0 > shape.query_offset ? s0 - shape.query_offset : 0;

  float d_key[kKeysPerWarp][kDimsPerLane], d_value[kKeysPerWarp][kDimsPerLane];
  bool key_padded[kKeysPerWarp];
#pragma unroll
  for (int n = 0; n < kKeysPerWarp; ++n) {
    const int64_t s = s0 + warp * kKeysPerWarp + n;
    key_padded[n] = key_mask && s < shape.keys && key_mask[b * shape.cache_rows + s] == 0;
#pragma unroll
    for (int c = 0; c < kDimsPerLane; ++c) d_key[n][c] = d_value[n][c] = 0.0f;
  }

  for (int64_t h = g * shape.group(); h < (g + 1) * shape.group(); ++h) {
    for (int64_t t0 = first_row; t0 < shape.queries; t0 += kChunk) {
      __syncthreads();
      const auto query_row = [=](int j) {
        return t0 + j < shape.queries ? shape.query_at(b, t0 + j, h) : int64_t{-1};
      };
      stage_rows(q, kChunk, D, query_row, q_chunk, row_stride);
      stage_rows(d_out, kChunk, D, query_row, d_out_chunk, row_stride);
      __syncthreads();
      for (int j = warp; j < kChunk; j += kAttentionWarps) {
        RowStatistics row{0.0f, 0.0f, true};
        if (t0 + j < shape.queries)
          row = row_statistics(shape, b, h, t0 + j, q_chunk + j * row_stride, d_out_chunk + j * row_stride, k,
                               out, lse);
        if (lane == 0) {
          chunk_lse[j] = row.lse;
          chunk_delta[j] = row.delta;
          chunk_padding_applies[j] = row.padding_applies;
        }
      }
      __syncthreads();

      const int64_t t = t0 + lane;
      const int chunk_rows = static_cast<int>(t0 + kChunk < shape.queries ? kChunk : shape.queries - t0);
      const int64_t row_limit = t < shape.queries ? shape.key_limit(t) : 0;
#pragma unroll
      for (int n = 0; n < kKeysPerWarp; ++n) {
        const int local_key = warp * kKeysPerWarp + n;
        const int64_t s = s0 + local_key;
        const bool visible = s < row_limit;
        if (!__any_sync(0xffffffffu, visible)) continue;
        float d_score = 0.0f, weight = 0.0f;
        if (visible) {
          float score = shape.scale * dot(q_chunk + lane * row_stride, k_tile + local_key * D, D);
          if (key_padded[n] && chunk_padding_applies[lane]) score += kPaddingScore;
          const float p = expf(score - chunk_lse[lane]);
          const float z = dropout.factor(seed, shape.row_index(b, h, t) * shape.keys + s);
          const float d_p = z * dot(d_out_chunk + lane * row_stride, v_tile + local_key * D, D);
          d_score = p * (d_p - chunk_delta[lane]);
          weight = z * p;
        }
        for (int j = 0; j < chunk_rows; ++j) {
          const float ds = __shfl_sync(0xffffffffu, d_score, j), w = __shfl_sync(0xffffffffu, weight, j);
          const float* query = q_chunk + j * row_stride;
          const float* d_out_row = d_out_chunk + j * row_stride;
#pragma unroll
          for (int c = 0; c < kDimsPerLane; ++c) {
            const int d = lane + 32 * c;
            if (d < D) {
              d_key[n][c] = fmaf(ds, query[d], d_key[n][c]);
              d_value[n][c] = fmaf(w, d_out_row[d], d_value[n][c]);
            }
          }
        }
      }
    }
  }

#pragma unroll
  for (int n = 0; n < kKeysPerWarp; ++n) {
    const int64_t s = s0 + warp * kKeysPerWarp + n;
    if (s >= shape.keys) continue;
    const int64_t at = shape.key_at(b, s, g);
#pragma unroll
    for (int c = 0; c < kDimsPerLane; ++c) {
      const int d = lane + 32 * c;
      if (d < D) {
        d_k[at + d] = from_float<T>(shape.scale * d_key[n][c]);
        d_v[at + d] = from_float<T>(d_value[n][c]);
      }
    }
  }
}

}  // namespace

template <typename T>
void launch_attention_backward(const AttentionShape& shape, const ProbsDropout& dropout, const T* d_out,
                               const T* q, const T* k, const T* v, const T* out, const float* lse,
                               const int32_t* key_mask, T* d_q, T* d_k, T* d_v, cudaStream_t stream) {
  const int64_t query_blocks = QueryTile::blocks(shape);
  const int64_t key_blocks = shape.batch * shape.kv_heads * ((shape.keys + kTileKeys - 1) / kTileKeys);
  if (query_blocks == 0 || key_blocks == 0) return;
  if (query_blocks > 0x7fffffff || key_blocks > 0x7fffffff)
    throw std::invalid_argument("attention_backward: too many rows for one launch");
  const int64_t D = shape.head_dim;
  const size_t query_shared = static_cast<size_t>(2 * kTileRows * D + 2 * kChunk * (D + 1)) * sizeof(float);
  const size_t key_shared =
      static_cast<size_t>(2 * kTileKeys * D + 2 * kChunk * (D + 1) + 3 * kChunk) * sizeof(float);
  dispatch_dims_per_lane(D, [&](auto dims_per_lane) {
    constexpr int kDimsPerLane = decltype(dims_per_lane)::value;
    const auto query_kernel = attention_backward_query_kernel<T, kDimsPerLane>;
    allow_shared_memory(query_kernel, query_shared);
    query_kernel<<<static_cast<unsigned>(query_blocks), kAttentionThreads, query_shared, stream>>>(
        shape, dropout, d_out, q, k, v, out, lse, key_mask, d_q);
    CUDA_CHECK_LAUNCH("attention_backward_query_kernel");
    const auto key_kernel = attention_backward_key_kernel<T, kDimsPerLane>;
    allow_shared_memory(key_kernel, key_shared);
    key_kernel<<<static_cast<unsigned>(key_blocks), kAttentionThreads, key_shared, stream>>>(
        shape, dropout, d_out, q, k, v, out, lse, key_mask, d_k, d_v);
    CUDA_CHECK_LAUNCH("attention_backward_key_kernel");
  });
}

template void launch_attention_backward<float>(const AttentionShape&, const ProbsDropout&, const float*,
                                               const float*, const float*, const float*, const float*,
                                               const float*, const int32_t*, float*, float*, float*,
                                               cudaStream_t);
template void launch_attention_backward<bf16>(const AttentionShape&, const ProbsDropout&, const bf16*,
                                              const bf16*, const bf16*, const bf16*, const bf16*,
                                              const float*, const int32_t*, bf16*, bf16*, bf16*,
                                              cudaStream_t);

}  // namespace cuda

void CudaBackend::do_attention_backward(const Tensor& d_out, const Tensor& q, const Tensor& k,
                                        const Tensor& v, const Tensor& out, const Tensor& lse,
                                        const Tensor& key_mask, const AttentionOptions& options, Tensor& d_q,
                                        Tensor& d_k, Tensor& d_v) {
  const cuda::AttentionShape shape = cuda::attention_shape(q, k, options);
  const cuda::ProbsDropout dropout = cuda::probs_dropout(options.dropout);
  const int32_t* mask = key_mask.defined() ? cuda::device_data<int32_t>(key_mask) : nullptr;
  cuda::dispatch_compute(q.dtype(), "attention_backward", [&](auto zero) {
    using T = decltype(zero);
    cuda::launch_attention_backward<T>(
        shape, dropout, cuda::device_data<T>(d_out), cuda::device_data<T>(q), cuda::device_data<T>(k),
        cuda::device_data<T>(v), cuda::device_data<T>(out), cuda::device_data<float>(lse), mask,
        cuda::device_data<T>(d_q), cuda::device_data<T>(d_k), cuda::device_data<T>(d_v), stream());
  });
}

}  // namespace minimind
