// Test helpers for token shards: write documents to a shard, read and rewrite a file's bytes, and reseal a
// deliberately damaged file's checksums so that the check behind them is the one that fires.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/token_shard.h"
#include "io/crc32c.h"
#include "support/file_contents.h"

namespace minimind::testing {

struct Document {
  std::vector<int32_t> ids;
  std::vector<uint8_t> loss_mask;  // empty for shards without one
};

inline void write_shard(const std::filesystem::path& path, TokenShardContent content,
                        const std::vector<Document>& documents) {
  TokenShardWriter writer(path, content);
  for (const Document& document : documents) writer.add_document(document.ids, document.loss_mask);
  writer.finish();
}

// A file's bytes as std::byte, the type the shard reader and the checksum work with.
inline std::vector<std::byte> read_bytes(const std::filesystem::path& path) {
  const std::string chars = read_file(path);
  std::vector<std::byte> bytes(chars.size());
  if (!chars.empty()) std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

inline void write_bytes(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  write_file(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

template <typename T>
T field(const std::vector<std::byte>& bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}
template <typename T>
void set_field(std::vector<std::byte>& bytes, size_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}

// Recomputes the payload checksum (bytes 64..end, stored at 48) and then the header checksum (bytes 0..59,
// stored at 60), as the writer does.
inline void reseal(std::vector<std::byte>& bytes) {
  const std::span<const std::byte> all(bytes);
  set_field<uint32_t>(bytes, 48, crc32c(all.subspan(kTokenShardHeaderBytes)));
  set_field<uint32_t>(bytes, 60, crc32c(all.first(60)));
}

}  // namespace minimind::testing
