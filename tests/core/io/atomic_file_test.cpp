// Atomic file writes. Reference: the file contents read back, and the directory listing (no temporary left);
// for a full disk (a real small tmpfs, and a file-size limit set in the kernel) the system's own error, and
// the bytes the test asked for and the file system could take.
#include "io/atomic_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "support/file_contents.h"
#include "support/file_size_limit.h"
#include "support/scratch_directory.h"
#include "support/small_tmpfs.h"

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

// The message of the std::system_error that `action` throws, or a failure.
template <typename Action>
std::string system_error_message(Action action, std::errc expected) {
  try {
    action();
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::make_error_code(expected)) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no std::system_error";
  return "";
}

TEST(AtomicFile, AFullDiskNamesTheFileTheBytesAndTheReasonAndKeepsTheOldFile) {
  ScratchDirectory directory;
  SmallTmpfs disk(directory / "disk", 256 << 10);
  if (!disk.mounted()) GTEST_SKIP() << disk.failure();
  const auto target = disk.path() / "model.safetensors";
  write_file_atomically(target, as_bytes("the previous contents"));
  const std::string block(1 << 20, 'z');  // four times the disk

  std::string message = system_error_message(
      [&] {
        write_file_atomically(target, [&](std::ostream& out) {
          out << "header";
          out.write(block.data(), static_cast<std::streamsize>(block.size()));
        });
      },
      std::errc::no_space_on_device);
  EXPECT_NE(message.find(target.string() + ".tmp-"), std::string::npos) << message;
  EXPECT_NE(message.find("write of 1048576 bytes at offset 6 stopped after "), std::string::npos) << message;
  EXPECT_NE(message.find("No space left on device"), std::string::npos) << message;
  EXPECT_EQ(read_file(target), "the previous contents");
  std::vector<std::string> names;
  for (const auto& item : std::filesystem::directory_iterator(disk.path()))
    names.push_back(item.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"model.safetensors"});  // no temporary left

  message = system_error_message([&] { write_file_atomically(target, as_bytes(block)); },
                                 std::errc::no_space_on_device);
  EXPECT_NE(message.find("write of 1048576 bytes at offset 0 stopped after "), std::string::npos) << message;
  EXPECT_EQ(read_file(target), "the previous contents");
}

TEST(AtomicFile, AWriteStoppedShortByTheKernelReportsBytesAskedAndWritten) {
  ScratchDirectory directory;
  const auto target = directory / "state.bin";
  write_file_atomically(target, as_bytes("old"));
  const std::string block(3 << 20, 'q');
  std::string message;
  {
    const FileSizeLimit limit(1 << 20);
    message = system_error_message([&] { write_file_atomically(target, as_bytes(block)); },
                                   std::errc::file_too_large);
  }
  EXPECT_NE(message.find("write of 3145728 bytes at offset 0 stopped after 1048576 bytes"), std::string::npos)
      << message;
  EXPECT_NE(message.find("File too large"), std::string::npos) << message;
  EXPECT_EQ(read_file(target), "old");
  EXPECT_EQ(directory.file_names(), std::vector<std::string>{"state.bin"});
}

}  // namespace
}  // namespace minimind
