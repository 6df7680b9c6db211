// CRC-32C (Castagnoli, the checksum of iSCSI, ext4 and many storage formats): catches truncation and
// corrupted bytes in the lab's binary files. The SSE4.2 instruction computes it where the build enables it
// (x86-64-v3 does); elsewhere a table-driven version (slicing by 8) gives the same values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace minimind {

// The CRC-32C of `bytes`, continuing from `previous` (the CRC of the bytes before them; 0 to start), so that
// crc32c(b, crc32c(a)) == crc32c(a followed by b).
uint32_t crc32c(std::span<const std::byte> bytes, uint32_t previous = 0);
inline uint32_t crc32c(const void* data, size_t size, uint32_t previous = 0) {
  return crc32c({static_cast<const std::byte*>(data), size}, previous);
}

// The table-driven computation, whatever the build's instruction set; crc32c() uses it where SSE4.2 is
// not enabled. Exposed so the tests check both against each other.
uint32_t crc32c_portable(std::span<const std::byte> bytes, uint32_t previous = 0);

}  // namespace minimind
