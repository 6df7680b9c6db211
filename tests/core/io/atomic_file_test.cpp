// Atomic file writes. Reference: the file contents read back, and the directory listing (no temporary left).
#include "io/atomic_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "support/file_contents.h"
#include "support/scratch_directory.h"

namespace minimind {
namespace {

std::span<const char> as_bytes(const std::string& text) {
  return {text.data(), text.size()};
}

TEST(AtomicFile, WritesTheBytes) {
  ScratchDirectory directory;
  const auto target = directory / "model.bin";
  const std::string content("hello\0world", 11);
  write_file_atomically(target, as_bytes(content));
  EXPECT_EQ(read_file(target), content);
  EXPECT_EQ(directory.file_names(), std::vector<std::string>{"model.bin"});

  write_file_atomically(target, std::span<const char>());
  EXPECT_TRUE(std::filesystem::exists(target));
  EXPECT_EQ(std::filesystem::file_size(target), 0u);
}

TEST(AtomicFile, StreamingReplacesAnExistingFile) {
  ScratchDirectory directory;
  const auto target = directory / "config.json";
  write_file_atomically(target, as_bytes("old contents"));
  // Larger than the internal buffer, written in both small and large pieces.
  const std::string block(3 << 20, 'x');
  write_file_atomically(target, [&](std::ostream& out) {
    out << "header " << 42 << '\n';
    out.write(block.data(), static_cast<std::streamsize>(block.size()));
    out.put('!');
  });
  EXPECT_EQ(read_file(target), "header 42\n" + block + "!");
  EXPECT_EQ(directory.file_names(), std::vector<std::string>{"config.json"});
}

TEST(AtomicFile, AFailingWriterLeavesTheOldFileIntact) {
  ScratchDirectory directory;
  const auto target = directory / "checkpoint.safetensors";
  write_file_atomically(target, as_bytes("the previous checkpoint"));
  const std::string block(5 << 20, 'y');  // enough to reach the disk before the failure
  try {
    write_file_atomically(target, [&](std::ostream& out) {
      out.write(block.data(), static_cast<std::streamsize>(block.size()));
      throw std::domain_error("writer gave up midway");
    });
    FAIL() << "no exception";
  } catch (const std::domain_error& e) {
    EXPECT_STREQ(e.what(), "writer gave up midway");  // the writer's own exception, unchanged
  }
  EXPECT_EQ(read_file(target), "the previous checkpoint");
  EXPECT_EQ(directory.file_names(), std::vector<std::string>{"checkpoint.safetensors"});
}

TEST(AtomicFile, AStreamLeftFailedIsAnError) {
  ScratchDirectory directory;
  const auto target = directory / "out.txt";
  EXPECT_THROW(write_file_atomically(target, [](std::ostream& out) { out.setstate(std::ios::failbit); }),
               std::runtime_error);
  EXPECT_TRUE(directory.file_names().empty());
}

TEST(AtomicFile, ErrorsNameThePathAndTheReason) {
  ScratchDirectory directory;
  const auto missing_directory = directory / "no-such-directory" / "file.bin";
  try {
    write_file_atomically(missing_directory, as_bytes("data"));
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(missing_directory.string()), std::string::npos) << message;
    EXPECT_NE(message.find("No such file or directory"), std::string::npos) << message;
  }

  // Renaming over a non-empty directory fails after the data was written: the temporary must go.
  std::filesystem::create_directories(directory / "occupied" / "inside");
  try {
    write_file_atomically(directory / "occupied", as_bytes("data"));
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("rename"), std::string::npos) << e.what();
  }
  EXPECT_EQ(directory.file_names(), std::vector<std::string>{"occupied"});
}

TEST(AtomicFile, StepsAroundAStaleTemporaryName) {
  ScratchDirectory directory;
  const auto target = directory / "data.bin";
  const auto stale = directory / ("data.bin.tmp-" + std::to_string(::getpid()) + "-0");
  write_file_atomically(stale, as_bytes("left by a crash"));
  write_file_atomically(target, as_bytes("fresh"));
  EXPECT_EQ(read_file(target), "fresh");
  EXPECT_EQ(read_file(stale), "left by a crash");
  EXPECT_EQ(directory.file_names().size(), 2u);
}

}  // namespace
}  // namespace minimind
