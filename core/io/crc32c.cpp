// CRC-32C, reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF. The tables are built at
// compile time; table k maps a byte to its CRC contribution k bytes further on (slicing by 8).
#include "io/crc32c.h"

#include <array>
#include <cstring>

#if defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

namespace minimind {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78u;

using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables make_tables() {
  Tables tables{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1u) ? (crc >> 1) ^ kPolynomial : crc >> 1;
    tables[0][byte] = crc;
  }
  for (size_t k = 1; k < 8; ++k)
    for (size_t byte = 0; byte < 256; ++byte)
      tables[k][byte] = (tables[k - 1][byte] >> 8) ^ tables[0][tables[k - 1][byte] & 0xFFu];
  return tables;
}

constexpr Tables kTables = make_tables();

}  // namespace

uint32_t crc32c_portable(std::span<const std::byte> bytes, uint32_t previous) {
  uint32_t crc = ~previous;
  const unsigned char* data = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t size = bytes.size();
  while (size >= 8) {
    uint64_t word;
    std::memcpy(&word, data, 8);  // little-endian hosts only, as every format of the lab
    word ^= crc;
    crc = kTables[7][word & 0xFF] ^ kTables[6][(word >> 8) & 0xFF] ^ kTables[5][(word >> 16) & 0xFF] ^
          kTables[4][(word >> 24) & 0xFF] ^ kTables[3][(word >> 32) & 0xFF] ^
          kTables[2][(word >> 40) & 0xFF] ^ kTables[1][(word >> 48) & 0xFF] ^ kTables[0][word >> 56];
    data += 8;
    size -= 8;
  }
  while (size-- > 0) crc = (crc >> 8) ^ kTables[0][(crc ^ *data++) & 0xFF];
  return ~crc;
}

uint32_t crc32c(std::span<const std::byte> bytes, uint32_t previous) {
#if defined(__SSE4_2__)
  uint64_t crc = ~previous;
  const unsigned char* data = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t size = bytes.size();
  while (size >= 8) {
    uint64_t word;
    std::memcpy(&word, data, 8);
    crc = _mm_crc32_u64(crc, word);
    data += 8;
    size -= 8;
  }
  uint32_t crc32 = static_cast<uint32_t>(crc);
  while (size-- > 0) crc32 = _mm_crc32_u8(crc32, *data++);
  return ~crc32;
#else
  return crc32c_portable(bytes, previous);
#endif
}

}  // namespace minimind
