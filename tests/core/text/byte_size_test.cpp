// format_bytes against values worked out by hand in binary units (1 KiB = 1024 B).
#include "text/byte_size.h"

#include <gtest/gtest.h>

#include <limits>

namespace minimind {
namespace {

TEST(ByteSize, PicksTheLargestUnitThatKeepsOneOrMore) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1024), "1.0 KiB");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(3LL << 30), "3.0 GiB");
  // The cost panel showed "36956100.0 MiB": 36,956,100 / 1024^2 = 35.24 TiB.
  EXPECT_EQ(format_bytes(36'956'100LL << 20), "35.2 TiB");
  EXPECT_EQ(format_bytes(5LL << 50), "5.0 PiB");
  EXPECT_EQ(format_bytes(std::numeric_limits<int64_t>::max()), "8.0 EiB");
  EXPECT_EQ(format_bytes(-(2LL << 20)), "-2.0 MiB");
}

TEST(ByteSize, NeverShowsAThousandAndTwentyFourOfAUnit) {
  // 1023.99 KiB rounds to 1024.0 at one decimal: it reads as 1.0 MiB instead.
  EXPECT_EQ(format_bytes(1024 * 1024 - 10), "1.0 MiB");
  EXPECT_EQ(format_bytes(1024 * 1023 + 900), "1023.9 KiB");
}

}  // namespace
}  // namespace minimind
