// Reference: the bytes written to the file with ordinary stream I/O.
#include "io/memory_map.h"

#include <gtest/gtest.h>

#include <string>
#include <system_error>

#include "support/file_contents.h"
#include "support/scratch_directory.h"

namespace minimind {
namespace {

TEST(MemoryMap, MapsTheFileContents) {
  ScratchDirectory directory;
  const std::string text = "memory mapped bytes\n\x01\x02";
  write_file(directory / "file.bin", text);
  for (auto access : {MemoryMap::Access::normal, MemoryMap::Access::sequential, MemoryMap::Access::random}) {
    const MemoryMap map = MemoryMap::open(directory / "file.bin", access);
    ASSERT_EQ(map.size(), text.size());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(map.data()), map.size()), text);
    EXPECT_EQ(map.path(), directory / "file.bin");
    map.advise(MemoryMap::Access::random);  // a hint; must not disturb the contents
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(map.bytes().data()), map.bytes().size()), text);
  }
}

TEST(MemoryMap, EmptyFileGivesAnEmptyMap) {
  ScratchDirectory directory;
  write_file(directory / "empty", "");
  const MemoryMap map = MemoryMap::open(directory / "empty");
  EXPECT_EQ(map.size(), 0u);
  EXPECT_TRUE(map.bytes().empty());
}

TEST(MemoryMap, MovesKeepTheSameMapping) {
  ScratchDirectory directory;
  write_file(directory / "file", "abcdef");
  MemoryMap first = MemoryMap::open(directory / "file");
  const std::byte* address = first.data();
  MemoryMap second = std::move(first);
  EXPECT_EQ(second.data(), address);
  EXPECT_EQ(first.size(), 0u);  // NOLINT(bugprone-use-after-move): a moved-from map is empty
  MemoryMap third;
  third = std::move(second);
  EXPECT_EQ(third.data(), address);
  EXPECT_EQ(static_cast<char>(third.data()[5]), 'f');
}

TEST(MemoryMap, ErrorsNameThePath) {
  ScratchDirectory directory;
  const auto missing = directory / "missing.bin";
  try {
    MemoryMap::open(missing);
    FAIL() << "expected an error";
  } catch (const std::system_error& error) {
    EXPECT_NE(std::string(error.what()).find(missing.string()), std::string::npos) << error.what();
    EXPECT_EQ(error.code(), std::errc::no_such_file_or_directory);
  }
  EXPECT_THROW(MemoryMap::open(directory.path()), std::system_error);  // a directory is not a file
}

}  // namespace
}  // namespace minimind
