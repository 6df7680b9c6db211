// TensorBoard event files written by hand, so a run opens in TensorBoard without TensorFlow: TFRecord
// framing (length, masked CRC-32C of the length, data, masked CRC-32C of the data) around the few
// protobuf messages scalars need:
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }
//   Value   { string tag = 1; float simple_value = 2; }
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "io/append_only_file.h"
#include "train/events.h"

namespace minimind {

// TFRecord's checksum: ((crc >> 15) | (crc << 17)) + 0xa282ead8 of the CRC-32C.
uint32_t masked_crc32c(std::string_view bytes);
// One record: uint64 length, uint32 masked CRC of those 8 bytes, data, uint32 masked CRC of data (little
// end).
std::string frame_tfrecord(std::string_view data);
// The serialized Event that starts every file: file_version "brain.Event:2".
std::string encode_file_version_event(double wall_time);
// The serialized Event carrying one scalar.
std::string encode_scalar_event(double wall_time, int64_t step, std::string_view tag, float value);

class TensorBoardWriter {
 public:
  // Creates <run_directory>/events.out.tfevents.<unix seconds>.<host name> (a ".<n>" suffix if that name is
  // taken) and writes the file-version record. Throws std::system_error naming the path on failure.
  explicit TensorBoardWriter(const std::filesystem::path& run_directory,
                             std::chrono::milliseconds flush_interval = std::chrono::milliseconds(2000));
  ~TensorBoardWriter();  // flushes, ignoring a failure (flush() reports it)
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // Appends one scalar; flushes when flush_interval has passed since the last flush. wall_time is in
  // seconds since the Unix epoch; a negative value means now.
  void add_scalar(std::string_view tag, float value, int64_t step, double wall_time = -1);

  // The scalars of an event, under these tags: StepMetrics -> train/loss, train/aux_loss,
  // train/learning_rate, train/grad_norm, train/tokens_per_s, train/flops_per_s, train/mfu (when known),
  // train/memory_bytes, train/tokens_seen; ValidationResult -> val/loss, val/perplexity; SkippedStep ->
  // train/skipped_consecutive. RunFinished flushes. Other events write nothing. Matches
  // EventStream::Callback's shape.
  void write(const Event& event);

  // Writes the records held since the last flush in one append (AppendOnlyFile): all of them or none, so the
  // file never ends in half a record. On failure they are dropped, the file keeps its whole records, and the
  // std::system_error names the path, the bytes and the reason.
  void flush();
  const std::filesystem::path& path() const { return path_; }
  uint64_t file_bytes() const { return file_->size(); }  // the file's whole records, flushed

 private:
  void append_record(std::string_view data);

  std::filesystem::path path_;
  std::optional<AppendOnlyFile> file_;  // opened once path_ is chosen
  std::string pending_;                 // framed records not yet written
  std::chrono::milliseconds flush_interval_;
  std::chrono::steady_clock::time_point last_flush_;
};

}  // namespace minimind
