// Token shards of random documents, for runs whose data does not matter (controllers, snapshots, pause and
// stop): ids drawn uniformly from [3, vocab_size) (0..2 are the special tokens).
#pragma once

#include <cstdint>
#include <filesystem>
#include <random>
#include <vector>

#include "data/token_shard.h"

namespace minimind {

// Document d has min_length + d % length_spread ids; the caller's generator lets several shards share a stream.
inline void write_random_shard(const std::filesystem::path& path, int64_t vocab_size, int documents, int min_length,
                               int length_spread, std::mt19937_64& rng) {
  TokenShardWriter writer(path, {static_cast<uint32_t>(vocab_size), false});
  for (int d = 0; d < documents; ++d) {
    std::vector<int32_t> ids(static_cast<size_t>(min_length + d % length_spread));
    for (int32_t& id : ids) id = static_cast<int32_t>(3 + rng() % static_cast<uint64_t>(vocab_size - 3));
    writer.add_document(ids);
  }
  writer.finish();
}

}  // namespace minimind
