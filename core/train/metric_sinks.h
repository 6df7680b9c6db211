// Log writers for a run directory: every event as one JSON object per line (JSONL), and the step metrics
// and validation results as CSV rows. Each write() matches EventStream::Callback's shape, so a writer
// subscribes directly: stream.subscribe([&writer](const Event& e) { writer.write(e); }).
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "io/append_only_file.h"
#include "train/events.h"

namespace minimind {

// The event's fields under their struct names, plus "type" (event_type). NaN (an unknown mfu) becomes null.
nlohmann::json event_to_json(const Event& event);

// Both writers append to an existing file, so a resumed run continues its log. An existing file whose last
// line was cut short (a crash or a full disk mid-write) loses that partial line first. Given `resume_step`,
// they then drop the lines of steps after it (logged by the interrupted run after its last checkpoint, and
// about to be logged again), rewriting the file atomically. Each line goes out whole or not at all
// (AppendOnlyFile): a write that fails leaves the file ending with its last complete line and throws a
// std::system_error naming the path, the bytes and the reason; the next write tries again. Errors opening
// the file are std::runtime_error or std::system_error naming the path.
class JsonlMetricsWriter {
 public:
  // Heavy snapshots (AttentionMaps, RopeTable) are large; they are written only if include_snapshots.
  explicit JsonlMetricsWriter(const std::filesystem::path& path, std::optional<int64_t> resume_step = {},
                              bool include_snapshots = false);
  void write(const Event& event);  // one line, on disk when write() returns (no buffering)
  const std::filesystem::path& path() const { return path_; }
  uint64_t file_bytes() const { return file_.size(); }  // the file's whole lines

 private:
  std::filesystem::path path_;
  AppendOnlyFile file_;
  bool include_snapshots_;
};

// Columns (kCsvHeader): type,step,epoch,loss,aux_loss,learning_rate,grad_norm,tokens_per_s,flops_per_s,mfu,
// memory_bytes,eta_s,elapsed_s,tokens_seen,perplexity. A "step_metrics" row fills all but perplexity; a
// "validation" row fills type, step, loss and perplexity. Other events write nothing. Numbers are printed
// in their shortest exact form. The header is written once: appending to a file whose header differs is
// refused.
class CsvMetricsWriter {
 public:
  static constexpr const char* kCsvHeader =
      "type,step,epoch,loss,aux_loss,learning_rate,grad_norm,tokens_per_s,flops_per_s,mfu,memory_bytes,"
      "eta_s,elapsed_s,tokens_seen,perplexity";

  explicit CsvMetricsWriter(const std::filesystem::path& path, std::optional<int64_t> resume_step = {});
  void write(const Event& event);  // one row, on disk when write() returns (no buffering)
  const std::filesystem::path& path() const { return path_; }
  uint64_t file_bytes() const { return file_.size(); }  // the file's whole rows

 private:
  std::filesystem::path path_;
  AppendOnlyFile file_;
};

}  // namespace minimind
