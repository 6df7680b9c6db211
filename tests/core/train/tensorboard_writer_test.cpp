// Reference: protobuf bytes of one scalar Event computed by hand from the wire format (and identical to
// what TensorBoard's own event_pb2 serializes for it), a TFRecord produced by TensorBoard's RecordWriter for
// the file-version Event, and a written file parsed back here with an independent reader of the framing (also
// after a file-size limit, standing for a full disk, refused a flush: whole records only).
#include "train/tensorboard_writer.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <system_error>

#include "io/crc32c.h"
#include "support/file_size_limit.h"

namespace minimind {
namespace {

std::string from_hex(std::string_view hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return bytes;
}

uint32_t read_u32(const std::string& bytes, size_t offset) {
  uint32_t value = 0;
  for (int i = 3; i >= 0; --i) value = value << 8 | static_cast<uint8_t>(bytes[offset + i]);
  return value;
}

uint64_t read_u64(const std::string& bytes, size_t offset) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = value << 8 | static_cast<uint8_t>(bytes[offset + i]);
  return value;
}

uint32_t mask(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

// The data of each record of a written file, read with a reader of the framing independent of the writer's;
// a truncated record is a test failure.
std::vector<std::string> records_of(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> records;
  size_t offset = 0;
  while (offset < bytes.size()) {
    if (offset + 12 > bytes.size()) {
      ADD_FAILURE() << "truncated header at " << offset;
      break;
    }
    const uint64_t length = read_u64(bytes, offset);
    EXPECT_EQ(read_u32(bytes, offset + 8), mask(crc32c(bytes.data() + offset, 8))) << "at " << offset;
    if (offset + 12 + length + 4 > bytes.size()) {
      ADD_FAILURE() << "truncated data at " << offset;
      break;
    }
    const std::string data = bytes.substr(offset + 12, length);
    EXPECT_EQ(read_u32(bytes, offset + 12 + length), mask(crc32c(data.data(), data.size())))
        << "at " << offset;
    records.push_back(data);
    offset += 12 + length + 4;
  }
  return records;
}

TEST(TensorBoardWriter, ScalarEventBytesMatchTheWireFormat) {
  // wall_time 1.0 (field 1, fixed64), step 300 (field 2, varint ac 02), summary (field 5) holding
  // value (field 1) { tag "loss" (field 1), simple_value 2.5f (field 2, fixed32 0x40200000) }.
  const std::string expected = from_hex(
      "09000000000000f03f"  // wall_time
      "10ac02"              // step
      "2a0d"                // summary, 13 bytes
      "0a0b"                // value, 11 bytes
      "0a046c6f7373"        // tag "loss"
      "1500002040");        // simple_value
  EXPECT_EQ(encode_scalar_event(1.0, 300, "loss", 2.5f), expected);
  EXPECT_EQ(encode_file_version_event(1.0), from_hex("09000000000000f03f"
                                                     "1a0d"
                                                     "627261696e2e4576656e743a32"));
}

TEST(TensorBoardWriter, RecordFramingMatchesTensorBoardsRecordWriter) {
  const std::string expected = from_hex(
      "1800000000000000"
      "a37f4b22"
      "09000000000000f03f1a0d627261696e2e4576656e743a32"
      "86bf577a");
  EXPECT_EQ(frame_tfrecord(encode_file_version_event(1.0)), expected);
}

TEST(TensorBoardWriter, WrittenFileParsesBackWithValidChecksums) {
  const char* kept_directory = std::getenv("MINIMIND_TENSORBOARD_TEST_DIR");  // to inspect with TensorBoard
  const std::filesystem::path directory =
      kept_directory ? std::filesystem::path(kept_directory)
                     : std::filesystem::path(testing::TempDir()) / "tensorboard_writer_test";
  if (!kept_directory) std::filesystem::remove_all(directory);
  std::filesystem::create_directories(directory);
  std::filesystem::path path;
  {
    TensorBoardWriter writer(directory);
    path = writer.path();
    for (int64_t step = 0; step < 5; ++step) {
      writer.write(StepMetrics{.step = step, .loss = 8.0 - step, .learning_rate = 1e-3, .grad_norm = 1.5});
    }
    writer.write(ValidationResult{.step = 4, .loss = 3.5, .perplexity = 33.115});
    writer.add_scalar("custom/value", 0.25f, 7, 1234.5);
  }
  EXPECT_EQ(path.parent_path(), directory);
  EXPECT_EQ(path.filename().string().rfind("events.out.tfevents.", 0), 0u) << path;

  const std::vector<std::string> records = records_of(path);
  // file_version, then 8 scalars per step (mfu is unknown: NaN, left out) x 5, 2 validation, 1 custom.
  ASSERT_EQ(records.size(), 1u + 8 * 5 + 2 + 1);
  EXPECT_NE(records[0].find("brain.Event:2"), std::string::npos);
  EXPECT_EQ(records[1].substr(9), encode_scalar_event(0, 0, "train/loss", 8.0f).substr(9));  // same but time
  EXPECT_EQ(records.back(), encode_scalar_event(1234.5, 7, "custom/value", 0.25f));
}

TEST(TensorBoardWriter, AFullDiskNeverLeavesHalfARecord) {
  const std::filesystem::path directory =
      std::filesystem::path(testing::TempDir()) / "tensorboard_writer_full";
  std::filesystem::remove_all(directory);
  std::filesystem::create_directories(directory);
  TensorBoardWriter writer(directory, std::chrono::hours(1));  // flushed only when asked
  const std::filesystem::path path = writer.path();
  for (int64_t step = 1; step <= 5; ++step) writer.write(StepMetrics{.step = step, .loss = 8.0 - step});
  {
    const FileSizeLimit limit(1000);  // the file-version record fits, the five steps' records do not
    try {
      writer.flush();
      FAIL() << "the flush went past the limit";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::file_too_large);
      EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(records_of(path).size(), 1u);  // the file-version record, whole; nothing after it
  // Room again: later scalars follow the last whole record (those of the failed flush are lost).
  writer.write(ValidationResult{.step = 5, .loss = 3.5, .perplexity = 33.115});  // flushes
  const std::vector<std::string> records = records_of(path);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_NE(records[1].find("val/loss"), std::string::npos);
}

}  // namespace
}  // namespace minimind
