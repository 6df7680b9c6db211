// Subscribes each writer of the run directory to the stream (each gets its own delivery thread) and makes
// their failures visible instead of letting the stream count them silently.
#include "train/run_logs.h"

namespace minimind {

RunLogs::RunLogs(const std::filesystem::path& run_dir, std::optional<int64_t> resume_step,
                 EventStream& events, FailureCallback on_failure)
    : jsonl_(run_dir / "metrics.jsonl", resume_step),
      csv_(run_dir / "metrics.csv", resume_step),
      tensorboard_(run_dir),
      on_failure_(std::move(on_failure)) {
  events.subscribe([this](const Event& e) { deliver(jsonl_, e, jsonl_failing_); });
  events.subscribe([this](const Event& e) { deliver(csv_, e, csv_failing_); });
  events.subscribe([this](const Event& e) { deliver(tensorboard_, e, tensorboard_failing_); });
}

template <typename Writer>
void RunLogs::deliver(Writer& writer, const Event& event, bool& failing) {
  const uint64_t before = writer.file_bytes();
  try {
    writer.write(event);
  } catch (const std::exception& e) {
    failed_writes_.fetch_add(1);
    if (std::exchange(failing, true)) return;  // reported when the spell began
    {
      std::lock_guard lock(failures_mutex_);
      failures_.push_back(e.what());
    }
    if (on_failure_) on_failure_(e.what());
    return;
  }
  // Most events write nothing to a given file; only bytes on disk show that the writer works again.
  if (writer.file_bytes() > before) failing = false;
}

std::vector<std::string> RunLogs::failures() const {
  std::lock_guard lock(failures_mutex_);
  return failures_;
}

}  // namespace minimind
