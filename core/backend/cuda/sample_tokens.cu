// sample_tokens: the next token of each row of logits, on the GPU, as the host Sampler picks it
// (backend/token_filters.h): the repetition penalty on the ids marked in seen, then the argmax (greedy), or
// temperature, top-k, top-p and a draw with the row's uniform.
// One block of 1024 threads per row; thread t owns the contiguous ids [t c, (t + 1) c), so that its partial
// sums run in id order and the draw's running sum follows the ids as the host's does. Nothing is sorted:
//   - the filtered logit z of an id is recomputed from the row whenever a pass needs it, in double, with the
//     host's operations (x * penalty or x / penalty, then z / temperature), so z is bit for bit the host's;
//   - top-k keeps z >= the k-th largest value, found by a binary search over the order-preserving 64-bit keys
//     of the doubles (count of keys >= mid: one block reduction per bit);
//   - top-p removes the prefix of the ascending order of (z, id) whose cumulative probability stays <=
//     1 - top_p, never the largest: a binary search finds the key level where the cumulative probability
//     first exceeds it, a second one the id within that level.
// The reductions have a fixed order (block_reduce.cuh), so a row gives the same token on every run. Sums
// are grouped differently from the host's sequential ones (about 1e-16 relative): a draw or a top-p cut that
// falls within that of a boundary may differ from the host's.
// A row with a NaN gets id -1; so does a sampled row (not greedy) whose largest logit is not finite.
#include <cstdint>

#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_types.cuh"

namespace minimind {
namespace {

using cuda::block_max;
using cuda::block_sum;
using cuda::device_data;
using cuda::to_double;

constexpr int kSampleThreads = 1024;

// A double's bits as an unsigned key with the same order (-inf lowest, +inf highest; NaNs are ruled out
// before any search).
__device__ __forceinline__ uint64_t order_key(double x) {
  const uint64_t bits = static_cast<uint64_t>(__double_as_longlong(x));
  return (bits >> 63) ? ~bits : (bits | 0x8000000000000000ull);
}

__device__ __forceinline__ double from_order_key(uint64_t key) {
  return __longlong_as_double(static_cast<long long>((key >> 63) ? (key & 0x7fffffffffffffffull) : ~key));
}

__device__ __forceinline__ uint64_t block_max_key(uint64_t value) {
  return block_max<unsigned long long>(value, 0ull);
}

__device__ __forceinline__ int64_t block_count(int64_t value) {
  return static_cast<int64_t>(block_sum<long long>(static_cast<long long>(value)));
}

// The exclusive prefix of `value` over the threads in thread order, and the block's total.
__device__ double block_exclusive_scan(double value, double& total) {
  __shared__ double per_warp[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  double inclusive = value;
  for (int offset = 1; offset < 32; offset *= 2) {
    const double other = __shfl_up_sync(cuda::kFullWarp, inclusive, offset);
    if (lane >= offset) inclusive += other;
  }
  __syncthreads();  // a previous call's readers are done with per_warp
  if (lane == 31) per_warp[warp] = inclusive;
  __syncthreads();
  if (warp == 0) {
    double warp_total = lane < warps ? per_warp[lane] : 0.0;
    for (int offset = 1; offset < 32; offset *= 2) {
      const double other = __shfl_up_sync(cuda::kFullWarp, warp_total, offset);
      if (lane >= offset) warp_total += other;
    }
    if (lane < warps) per_warp[lane] = warp_total;  // inclusive over the warps
  }
  __syncthreads();
  total = per_warp[warps - 1];
  const double before_warp = warp > 0 ? per_warp[warp - 1] : 0.0;
  return before_warp + inclusive - value;
}

template <typename T>
struct Row {
  const T* logits;
  const int32_t* seen;
  TokenFilters filters;

  // The logit after the repetition penalty, as apply_repetition_penalty computes it in double.
  __device__ double penalized(int64_t i) const {
    double x = to_double(logits[i]);
    if (filters.repetition_penalty != 1.0 && seen[i] != 0)
      x = x < 0 ? x * filters.repetition_penalty : x / filters.repetition_penalty;
    return x;
  }
  // ... then the temperature, as apply_temperature.
  __device__ double scaled(int64_t i) const {
    const double x = penalized(i);
    return filters.temperature != 1.0 ? x / filters.temperature : x;
  }
};

template <typename T>
__global__ void __launch_bounds__(kSampleThreads)
    sample_tokens_kernel(const T* __restrict__ logits, int64_t vocab, TokenFilters filters,
                         const double* __restrict__ uniforms, int32_t* __restrict__ seen,
                         int32_t* __restrict__ ids) {
  const int64_t r = blockIdx.x;
  const Row<T> row{logits + r * vocab, seen + r * vocab, filters};
  const int64_t chunk = (vocab + blockDim.x - 1) / blockDim.x;
  const int64_t begin = min(vocab, static_cast<int64_t>(threadIdx.x) * chunk);
  const int64_t end = min(vocab, begin + chunk);

  // NaN anywhere, or no finite maximum: no token.
  int64_t nan_count = 0;
  for (int64_t i = begin; i < end; ++i) nan_count += isnan(row.penalized(i)) ? 1 : 0;
  const bool has_nan = block_count(nan_count) > 0;

  int32_t chosen = -1;
  if (filters.greedy) {
    // The argmax of the penalized logits, the lowest id among equals.
    double best = -INFINITY;
    int64_t best_id = -1;
    for (int64_t i = begin; i < end; ++i) {
      const double x = row.penalized(i);
      if (best_id < 0 || x > best) best = x, best_id = i;
    }
    const double largest = block_max<double>(best_id >= 0 ? best : -INFINITY, -INFINITY);
    const long long mine = best_id >= 0 && best == largest ? vocab - best_id : 0;
    const int64_t first = vocab - block_max<long long>(mine, 0);
    if (!has_nan) chosen = static_cast<int32_t>(first);
  } else {
    // Keys of the scaled logits; every id takes part until top-k or top-p removes it.
    uint64_t key_max = 0, key_min_complement = 0;
    for (int64_t i = begin; i < end; ++i) {
      const uint64_t key = order_key(row.scaled(i));
      key_max = max(key_max, key);
      key_min_complement = max(key_min_complement, ~key);
    }
    key_max = block_max_key(key_max);
    const uint64_t key_min = ~block_max_key(key_min_complement);

    // top-k: the k-th largest key, the largest v with at least k keys >= v.
    uint64_t kth = key_min;
    if (filters.top_k > 0 && filters.top_k < vocab) {
      uint64_t lo = key_min, hi = key_max;
      while (lo < hi) {
        const uint64_t mid = lo + (hi - lo) / 2 + 1;
        int64_t count = 0;
        for (int64_t i = begin; i < end; ++i) count += order_key(row.scaled(i)) >= mid ? 1 : 0;
        if (block_count(count) >= filters.top_k)
          lo = mid;
        else
          hi = mid - 1;
      }
      kth = lo;
    }
    const uint64_t kept_min = kth;  // ids with key >= kept_min survive top-k

    // The softmax over what top-k kept: the largest kept value is the row's largest.
    const double top = from_order_key(key_max);
    double exp_sum = 0.0;
    for (int64_t i = begin; i < end; ++i) {
      const double z = row.scaled(i);
      if (order_key(z) >= kept_min) exp_sum += exp(z - top);
    }
    const double total = block_sum(exp_sum);

    // top-p: remove (key, id) < (cut_key, cut_id) in the ascending order.
    uint64_t cut_key = 0;
    int64_t cut_id = 0;
    if (filters.top_p < 1.0) {
      const double threshold = 1.0 - filters.top_p;
      // Probability of the kept ids with key <= c (and, when `level`, key == c and id <= j).
      const auto mass_up_to = [&](uint64_t c) {
        double sum = 0.0;
        for (int64_t i = begin; i < end; ++i) {
          const double z = row.scaled(i);
          const uint64_t key = order_key(z);
          if (key >= kept_min && key <= c) sum += exp(z - top) / total;
        }
        return block_sum(sum);
      };
      const auto level_mass_up_to = [&](uint64_t c, int64_t j) {
        double sum = 0.0;
        for (int64_t i = begin; i < end && i <= j; ++i) {
          const double z = row.scaled(i);
          if (order_key(z) == c) sum += exp(z - top) / total;
        }
        return block_sum(sum);
      };
      // The smallest level c whose cumulative probability exceeds the threshold (key_max when rounding
      // leaves even the whole row at or below it: then all but the largest go).
      uint64_t lo = kept_min, hi = key_max;
      while (lo < hi) {
        const uint64_t mid = lo + (hi - lo) / 2;
        if (mass_up_to(mid) > threshold)
          hi = mid;
        else
          lo = mid + 1;
      }
      cut_key = lo;
      const double below = cut_key > kept_min ? mass_up_to(cut_key - 1) : 0.0;
      // Within the level, ids ascend: the first id whose cumulative probability exceeds the threshold stays;
      // at the top level the last id always stays.
      int64_t last_in_level = -1;
      for (int64_t i = begin; i < end; ++i)
        if (order_key(row.scaled(i)) == cut_key) last_in_level = i;
      last_in_level = block_max<long long>(static_cast<long long>(last_in_level), -1);
      int64_t id_lo = 0, id_hi = last_in_level;
      while (id_lo < id_hi) {
        const int64_t mid = id_lo + (id_hi - id_lo) / 2;
        if (below + level_mass_up_to(cut_key, mid) > threshold)
          id_hi = mid;
        else
          id_lo = mid + 1;
      }
      cut_id = id_lo;
    }
    const auto kept = [&](int64_t i, uint64_t key) {
      return key >= kept_min && (key > cut_key || (key == cut_key && i >= cut_id));
    };

    // The draw: probabilities as softmax_probabilities, the first id whose running sum exceeds u * total.
    double kept_exp = 0.0;
    for (int64_t i = begin; i < end; ++i) {
      const double z = row.scaled(i);
      if (kept(i, order_key(z))) kept_exp += exp(z - top);
    }
    const double normalizer = block_sum(kept_exp);
    double mine = 0.0;
    for (int64_t i = begin; i < end; ++i) {
      const double z = row.scaled(i);
      if (kept(i, order_key(z))) mine += exp(z - top) / normalizer;
    }
    double probability_total = 0.0;
    double running = block_exclusive_scan(mine, probability_total);
    const double target = uniforms[r] * probability_total;
    int64_t crossing = vocab, last_positive = -1;
    for (int64_t i = begin; i < end; ++i) {
      const double z = row.scaled(i);
      if (!kept(i, order_key(z))) continue;
      const double p = exp(z - top) / normalizer;
      if (p <= 0) continue;
      running += p;
      last_positive = i;
      if (running > target) {
        crossing = i;
        break;
      }
    }
    const int64_t first = vocab - block_max<long long>(static_cast<long long>(vocab - crossing), 0);
    const int64_t last = block_max<long long>(static_cast<long long>(last_positive), -1);
    if (!has_nan && isfinite(top) && probability_total > 0)
      chosen = static_cast<int32_t>(first < vocab ? first : last);
  }

  __syncthreads();  // every read of seen is done
  if (threadIdx.x == 0) {
    ids[r] = chosen;
    if (chosen >= 0) seen[r * vocab + chosen] = 1;
  }
}

}  // namespace

void CudaBackend::do_sample_tokens(const Tensor& logits, const TokenFilters& filters, const Tensor& uniforms,
                                   Tensor& seen, Tensor& ids) {
  const int64_t rows = logits.dim(0), vocab = logits.dim(1);
  if (rows == 0) return;
  if (rows > 0x7fffffff) throw std::invalid_argument("sample_tokens: too many rows for one launch");
  const double* draws = filters.greedy ? nullptr : device_data<double>(uniforms);
  cuda::dispatch_compute(logits.dtype(), "sample_tokens", [&](auto zero) {
    using T = decltype(zero);
    sample_tokens_kernel<T><<<static_cast<unsigned>(rows), kSampleThreads, 0, stream()>>>(
        device_data<T>(logits), vocab, filters, draws, device_data<int32_t>(seen), device_data<int32_t>(ids));
    CUDA_CHECK_LAUNCH("sample_tokens_kernel");
  });
}

}  // namespace minimind
