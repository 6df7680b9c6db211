// The log files of a run directory (metrics.jsonl, metrics.csv, TensorBoard events), subscribed to a run's
// event stream for as long as this object lives. The CLI and the lab write the same files through it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "train/event_stream.h"
#include "train/metric_sinks.h"
#include "train/tensorboard_writer.h"

namespace minimind {

class RunLogs {
 public:
  // resume_step: the step the run continues from (lines logged after it by an interrupted run are dropped).
  RunLogs(const std::filesystem::path& run_dir, std::optional<int64_t> resume_step, EventStream& events);
  RunLogs(const RunLogs&) = delete;
  RunLogs& operator=(const RunLogs&) = delete;

 private:
  JsonlMetricsWriter jsonl_;
  CsvMetricsWriter csv_;
  TensorBoardWriter tensorboard_;
};

}  // namespace minimind
