// Pieces shared by the attention kernels (attention_forward.cu, attention_backward.cu): the problem's
// sizes, the dropout of the probabilities, tile constants, warp reductions, and the launchers the
// CudaBackend ops call with raw device pointers.
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "backend/backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_types.cuh"
#include "backend/dropout_mask.h"

namespace minimind::cuda {

// Threads of a block: four warps. The forward-like kernels give each warp kRowsPerWarp query rows; the
// key-gradient kernel gives each warp kKeysPerWarp keys.
constexpr int kAttentionWarps = 4;
constexpr int kAttentionThreads = kAttentionWarps * 32;
constexpr int kRowsPerWarp = 4;
constexpr int kTileRows = kAttentionWarps * kRowsPerWarp;  // query rows per block
constexpr int kChunk = 32;  // keys (or query rows) staged at a time: one per lane
constexpr int kMaxHeadDim = 256;
// What the reference model adds to the score of a padded key.
constexpr float kPaddingScore = -1e9f;
// A row whose log-sum-exp is below this saw only padded keys (real scores are far smaller in magnitude).
constexpr float kPaddedRowLse = 0.5f * kPaddingScore;

struct AttentionShape {
  int64_t batch = 0, queries = 0, q_heads = 0, kv_heads = 0, head_dim = 0;
  int64_t cache_rows = 0;    // S_cap: rows of k, v and key_mask
  int64_t keys = 0;          // S: valid rows
  int64_t query_offset = 0;  // position of query row 0 among the keys
  float scale = 1.0f;

  __host__ __device__ int64_t group() const { return q_heads / kv_heads; }
  // Keys visible to query row t: s <= offset + t and s < S.
  __host__ __device__ int64_t key_limit(int64_t t) const {
    const int64_t causal = query_offset + t + 1;
    return causal < keys ? causal : keys;
  }
  // Element offsets of (b, t, h, 0) in q/out and of (b, s, g, 0) in k/v.
  __host__ __device__ int64_t query_at(int64_t b, int64_t t, int64_t h) const {
    return ((b * queries + t) * q_heads + h) * head_dim;
  }
  __host__ __device__ int64_t key_at(int64_t b, int64_t s, int64_t g) const {
    return ((b * cache_rows + s) * kv_heads + g) * head_dim;
  }
  // Index of (b, h, t) in lse, and of (b, h, t, 0) in probs and in the dropout stream.
  __host__ __device__ int64_t row_index(int64_t b, int64_t h, int64_t t) const {
    return (b * q_heads + h) * queries + t;
  }
};

// Dropout on the probabilities: element (b, h, t, s) is kept iff the hash of its index
// ((b Hq + h) T + t) S + s under the site's seed passes; kept values are scaled by 1 / (1 - p).
struct ProbsDropout {
  const int32_t* step_seed = nullptr;  // i32 [2] on the device; null: no dropout
  uint64_t site = 0;
  uint32_t threshold = 0;
  float keep_scale = 1.0f;

  __device__ uint64_t site_seed() const {
    return dropout_site_seed(
        dropout_step_seed(static_cast<uint32_t>(step_seed[0]), static_cast<uint32_t>(step_seed[1])), site);
  }
  // The factor Z of one element: keep_scale when kept, else 0 (1 without dropout).
  __device__ float factor(uint64_t seed, int64_t index) const {
    if (!step_seed) return 1.0f;
    return dropout_keep(seed, static_cast<uint64_t>(index), threshold) ? keep_scale : 0.0f;
  }
};

__device__ __forceinline__ float warp_max(float x) {
  for (int offset = 16; offset > 0; offset >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
  return x;
}

__device__ __forceinline__ float warp_sum(float x) {
  for (int offset = 16; offset > 0; offset >>= 1) x += __shfl_xor_sync(0xffffffffu, x, offset);
  return x;
}

// a . b over n floats; each lane runs its own product (the callers give lanes different rows).
__device__ __forceinline__ float dot(const float* a, const float* b, int n) {
  float sum = 0.0f;
#pragma unroll 4
  for (int d = 0; d < n; ++d) sum = fmaf(a[d], b[d], sum);
  return sum;
}

// Copies `rows` rows of `width` elements, row r read at src + row_offset(r), into dst with row stride
// dst_stride, widened to f32; rows for which row_offset returns a negative value are filled with zeros.
// The whole block takes part; consecutive threads read consecutive elements of a row.
template <typename T, typename RowOffset>
__device__ void stage_rows(const T* src, int rows, int width, RowOffset row_offset, float* dst,
                           int dst_stride) {
  for (int index = threadIdx.x; index < rows * width; index += blockDim.x) {
    const int r = index / width, d = index - r * width;
    const int64_t offset = row_offset(r);
    dst[r * dst_stride + d] = offset >= 0 ? to_float(src[offset + d]) : 0.0f;
  }
}

// A forward-like block's tile: kTileRows consecutive rows among the G T query rows of one (batch, kv head),
// row r being query head g G + r / T at position r % T. The group's heads share the kv head's staged keys,
// so decoding (T = 1) still fills a tile.
struct QueryTile {
  int64_t b = 0, g = 0, first_row = 0;

  __host__ __device__ static int64_t tiles_per_kv_head(const AttentionShape& shape) {
    return (shape.group() * shape.queries + kTileRows - 1) / kTileRows;
  }
  static int64_t blocks(const AttentionShape& shape) {
    return shape.batch * shape.kv_heads * tiles_per_kv_head(shape);
  }
  __device__ static QueryTile of_block(const AttentionShape& shape) {
    const int64_t tiles = tiles_per_kv_head(shape), block = blockIdx.x;
    return {block / (tiles * shape.kv_heads), (block / tiles) % shape.kv_heads, (block % tiles) * kTileRows};
  }
};

// One row of a QueryTile: its query head, position and number of visible keys (valid false past the end).
struct TileRow {
  bool valid = false;
  int64_t h = 0, t = 0, limit = 0;

  __device__ static TileRow at(const AttentionShape& shape, const QueryTile& tile, int r) {
    const int64_t row = tile.first_row + r;
    if (row >= shape.group() * shape.queries) return {};
    const int64_t t = row % shape.queries;
    return {true, tile.g * shape.group() + row / shape.queries, t, shape.key_limit(t)};
  }
};

// Stages a tile's rows of a [B, T, Hq, D] tensor (q, d_out) into dst [kTileRows][D], widened to f32; the
// rows past the end of the tile are zeros.
template <typename T>
__device__ void stage_tile_rows(const T* src, const AttentionShape& shape, const QueryTile& tile,
                                float* dst) {
  const int D = static_cast<int>(shape.head_dim);
  stage_rows(
      src, kTileRows, D,
      [&](int r) {
        const TileRow row = TileRow::at(shape, tile, r);
        return row.valid ? shape.query_at(tile.b, row.t, row.h) : int64_t{-1};
      },
      dst, D);
}

// Keys a tile reads: up to the largest limit among its rows.
__device__ inline int64_t tile_key_end(const AttentionShape& shape, const QueryTile& tile) {
  int64_t end = 0;
  for (int r = 0; r < kTileRows; ++r) {
    const TileRow row = TileRow::at(shape, tile, r);
    if (row.valid && row.limit > end) end = row.limit;
  }
  return end;
}

// The log-sum-exp of a row's scaled scores over keys [0, limit) without the padding, read straight from k:
// the backward's P for a row that saw only padded keys (its saved lse, near -1e9 in f32, has lost the
// scores' digits). Such rows are rare (left padding), so this path is simple rather than fast. q_row is
// the row in f32; k_head points at (b, 0, g) of k, key s at k_head + s key_stride.
template <typename T>
__device__ float unmasked_row_lse(const float* q_row, const T* k_head, int64_t key_stride, int head_dim,
                                  int64_t limit, float scale) {
  const int lane = threadIdx.x % 32;
  float running_max = -INFINITY, running_sum = 0.0f;
  for (int64_t s0 = 0; s0 < limit; s0 += 32) {
    const int64_t s = s0 + lane;
    float score = -INFINITY;
    if (s < limit) {
      const T* key = k_head + s * key_stride;
      float sum = 0.0f;
      for (int d = 0; d < head_dim; ++d) sum = fmaf(q_row[d], to_float(key[d]), sum);
      score = scale * sum;
    }
    const float new_max = fmaxf(running_max, warp_max(score));
    const float p = s < limit ? expf(score - new_max) : 0.0f;
    running_sum = running_sum * expf(running_max - new_max) + warp_sum(p);
    running_max = new_max;
  }
  return running_max + logf(running_sum);
}

// Head dims by lanes: lane l holds dims l, l + 32, ... (kDimsPerLane of them). Callers pick 2, 4 or 8.
inline int dims_per_lane(int64_t head_dim) {
  if (head_dim < 1 || head_dim > kMaxHeadDim)
    throw std::invalid_argument("cuda attention: the head dim should be in [1, " +
                                std::to_string(kMaxHeadDim) + "], got " + std::to_string(head_dim));
  return head_dim <= 64 ? 2 : head_dim <= 128 ? 4 : 8;
}

template <typename Fn>
void dispatch_dims_per_lane(int64_t head_dim, Fn&& fn) {
  switch (dims_per_lane(head_dim)) {
    case 2:
      fn(std::integral_constant<int, 2>{});
      break;
    case 4:
      fn(std::integral_constant<int, 4>{});
      break;
    default:
      fn(std::integral_constant<int, 8>{});
      break;
  }
}

// The shapes of the op's tensors (checked by the Backend in front).
inline AttentionShape attention_shape(const Tensor& q, const Tensor& k, const AttentionOptions& options) {
  AttentionShape shape;
  shape.batch = q.dim(0);
  shape.queries = q.dim(1);
  shape.q_heads = q.dim(2);
  shape.head_dim = q.dim(3);
  shape.cache_rows = k.dim(1);
  shape.kv_heads = k.dim(2);
  shape.keys = options.num_keys;
  shape.query_offset = options.query_offset;
  shape.scale = static_cast<float>(options.scale);
  return shape;
}

inline ProbsDropout probs_dropout(const Dropout& dropout) {
  ProbsDropout result;
  if (!dropout.active()) return result;
  result.step_seed = device_data<int32_t>(dropout.step_seed);
  result.site = dropout.site;
  result.threshold = dropout_threshold(dropout.probability);
  result.keep_scale = static_cast<float>(1.0 / (1.0 - dropout.probability));
  return result;
}

// Dynamic shared memory above the default 48 KB must be allowed per kernel.
template <typename Kernel>
void allow_shared_memory(Kernel kernel, size_t bytes) {
  CUDA_CHECK(
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

// Launchers (the ops in cuda_backend.h unpack tensors and call these on the backend's stream).
// lse may be null. key_mask is null or i32 [B, S_cap].
template <typename T>
void launch_attention_forward(const AttentionShape& shape, const ProbsDropout& dropout, const T* q,
                              const T* k, const T* v, const int32_t* key_mask, T* out, float* lse,
                              cudaStream_t stream);
template <typename T>
void launch_attention_probs(const AttentionShape& shape, const T* q, const T* k, const int32_t* key_mask,
                            float* probs, cudaStream_t stream);
template <typename T>
void launch_attention_backward(const AttentionShape& shape, const ProbsDropout& dropout, const T* d_out,
                               const T* q, const T* k, const T* v, const T* out, const float* lse,
                               const int32_t* key_mask, T* d_q, T* d_k, T* d_v, cudaStream_t stream);

}  // namespace minimind::cuda
