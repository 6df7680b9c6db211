// The log files of a run directory (metrics.jsonl, metrics.csv, TensorBoard events), subscribed to a run's
// event stream for as long as this object lives. The CLI and the lab write the same files through it.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "train/event_stream.h"
#include "train/metric_sinks.h"
#include "train/tensorboard_writer.h"

namespace minimind {

class RunLogs {
 public:
  using FailureCallback = std::function<void(const std::string& message)>;

  // resume_step: the step the run continues from (lines logged after it by an interrupted run are dropped).
  // on_failure: called with the error when one of the writers starts failing (disk full, I/O error), on that
  // writer's delivery thread; not again while it keeps failing, again if it fails after writing once more.
  // The trainer's report_log_failure is meant for it: the run then checks that it can still save itself.
  // Close the stream before destroying this object (its callbacks use the writers).
  RunLogs(const std::filesystem::path& run_dir, std::optional<int64_t> resume_step, EventStream& events,
          FailureCallback on_failure = {});
  RunLogs(const RunLogs&) = delete;
  RunLogs& operator=(const RunLogs&) = delete;

  int64_t failed_writes() const { return failed_writes_.load(); }  // events a writer could not write
  std::vector<std::string> failures() const;                       // the error that began each failing spell

 private:
  // Writes one event with one writer, turning its exception into a reported failure. `failing` belongs to
  // the writer's delivery thread.
  template <typename Writer>
  void deliver(Writer& writer, const Event& event, bool& failing);

  JsonlMetricsWriter jsonl_;
  CsvMetricsWriter csv_;
  TensorBoardWriter tensorboard_;
  FailureCallback on_failure_;
  bool jsonl_failing_ = false, csv_failing_ = false, tensorboard_failing_ = false;
  std::atomic<int64_t> failed_writes_{0};
  mutable std::mutex failures_mutex_;
  std::vector<std::string> failures_;
};

}  // namespace minimind
