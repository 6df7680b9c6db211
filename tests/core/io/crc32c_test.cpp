// Reference: the CRC-32C check values of RFC 3720 (iSCSI), appendix B.4, and "123456789" -> 0xE3069283; a
// bit-by-bit computation from the polynomial for everything else.
#include "io/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace minimind {
namespace {

uint32_t bitwise_crc32c(const std::vector<std::byte>& bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (std::byte byte : bytes) {
    crc ^= static_cast<uint32_t>(byte);
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

std::vector<std::byte> filled(size_t size, uint8_t value) {
  return std::vector<std::byte>(size, std::byte{value});
}

TEST(Crc32c, KnownValues) {
  const std::string check = "123456789";
  EXPECT_EQ(crc32c(check.data(), check.size()), 0xE3069283u);
  EXPECT_EQ(crc32c(filled(32, 0x00)), 0x8A9136AAu);
  EXPECT_EQ(crc32c(filled(32, 0xFF)), 0x62A8AB43u);
  std::vector<std::byte> ascending(32);
  for (size_t i = 0; i < 32; ++i) ascending[i] = std::byte{static_cast<uint8_t>(i)};
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(crc32c_portable(ascending), 0x46DD794Eu);
  EXPECT_EQ(crc32c(std::span<const std::byte>{}), 0u);
}

TEST(Crc32c, BothPathsMatchTheBitwiseDefinitionAtEveryLengthAndAlignment) {
  std::mt19937 random(7);
  std::vector<std::byte> buffer(300 + 8);
  for (std::byte& byte : buffer) byte = std::byte{static_cast<uint8_t>(random())};
  for (size_t start = 0; start < 8; ++start) {
    for (size_t size = 0; size <= 300; ++size) {
      const std::vector<std::byte> piece(buffer.begin() + start, buffer.begin() + start + size);
      const uint32_t expected = bitwise_crc32c(piece);
      const std::span<const std::byte> view(buffer.data() + start, size);
      ASSERT_EQ(crc32c(view), expected) << "start " << start << " size " << size;
      ASSERT_EQ(crc32c_portable(view), expected) << "start " << start << " size " << size;
    }
  }
}

TEST(Crc32c, ContinuesAcrossPieces) {
  std::vector<std::byte> bytes(1000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::byte{static_cast<uint8_t>(i * 31 + 7)};
  const uint32_t whole = crc32c(bytes);
  for (size_t cut : {0, 1, 7, 8, 9, 500, 999, 1000}) {
    const std::span<const std::byte> all(bytes);
    EXPECT_EQ(crc32c(all.subspan(cut), crc32c(all.first(cut))), whole) << "cut at " << cut;
    EXPECT_EQ(crc32c_portable(all.subspan(cut), crc32c_portable(all.first(cut))), whole) << "cut at " << cut;
  }
}

}  // namespace
}  // namespace minimind
