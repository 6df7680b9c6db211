// Whole-record appends. Reference: the file's bytes read back after appends that succeed, that are cut short
// by a file-size limit (the kernel writes part of the record, then refuses with EFBIG) and that fail at once
// (/dev/full: ENOSPC), and partial last lines written by hand.
#include "io/append_only_file.h"

#include <gtest/gtest.h>

#include <string>
#include <system_error>

#include "support/file_contents.h"
#include "support/file_size_limit.h"
#include "support/scratch_directory.h"

namespace minimind {
namespace {

TEST(AppendOnlyFile, AppendsWholeRecordsAfterWhatIsThere) {
  ScratchDirectory directory;
  write_file(directory / "log.jsonl", "{\"a\": 1}\n");
  AppendOnlyFile file(directory / "log.jsonl", "log");
  EXPECT_EQ(file.size(), 9u);
  file.append("{\"b\": 2}\n");
  file.append("{\"c\": 3}\n");
  EXPECT_EQ(file.size(), 27u);
  EXPECT_EQ(read_file(directory / "log.jsonl"), "{\"a\": 1}\n{\"b\": 2}\n{\"c\": 3}\n");
}

TEST(AppendOnlyFile, ARecordCutShortIsRemovedAndTheErrorSaysWhere) {
  ScratchDirectory directory;
  const auto path = directory / "metrics.jsonl";
  const std::string record(40, 'x');
  AppendOnlyFile file(path, "metrics log");
  {
    const FileSizeLimit limit(100);  // room for two records and half of a third
    file.append(record);
    file.append(record);
    try {
      file.append(record);
      FAIL() << "the third record went past the limit";
    } catch (const std::system_error& e) {
      const std::string message = e.what();
      EXPECT_EQ(e.code(), std::errc::file_too_large);
      EXPECT_NE(message.find("metrics log: " + path.string()), std::string::npos) << message;
      EXPECT_NE(message.find("appending 40 bytes (20 written, cut back"), std::string::npos) << message;
    }
    EXPECT_EQ(read_file(path), record + record);  // not 100 bytes: the half record is gone
    EXPECT_EQ(file.size(), 80u);
  }
  file.append(record);  // the limit lifted, the next record goes after the last whole one
  EXPECT_EQ(read_file(path), record + record + record);
}

TEST(AppendOnlyFile, AFullDeviceRefusesWithItsReason) {
  AppendOnlyFile file("/dev/full", "metrics log");
  try {
    file.append("line\n");
    FAIL() << "/dev/full accepted a write";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::no_space_on_device);
    EXPECT_NE(std::string(e.what()).find("appending 5 bytes (0 written)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(file.size(), 0u);
}

TEST(AppendOnlyFile, APartialLastLineIsDropped) {
  ScratchDirectory directory;
  const auto path = directory / "metrics.csv";
  write_file(path, "header\nrow 1\nrow 2 cut sh");
  EXPECT_EQ(drop_partial_last_line(path, "metrics log"), 12u);
  EXPECT_EQ(read_file(path), "header\nrow 1\n");
  EXPECT_EQ(drop_partial_last_line(path, "metrics log"), 0u);  // whole already
  write_file(path, "no line break at all");
  EXPECT_EQ(drop_partial_last_line(path, "metrics log"), 20u);
  EXPECT_EQ(read_file(path), "");
  EXPECT_EQ(drop_partial_last_line(directory / "missing.csv", "metrics log"), 0u);
  // Longer than the block the search reads at a time.
  const std::string long_line(200000, 'y');
  write_file(path, "first\n" + long_line);
  EXPECT_EQ(drop_partial_last_line(path, "metrics log"), long_line.size());
  EXPECT_EQ(read_file(path), "first\n");
}

}  // namespace
}  // namespace minimind
