// Subscribes each writer of the run directory to the stream (each gets its own delivery thread).
#include "train/run_logs.h"

namespace minimind {

RunLogs::RunLogs(const std::filesystem::path& run_dir, std::optional<int64_t> resume_step, EventStream& events)
    : jsonl_(run_dir / "metrics.jsonl", resume_step), csv_(run_dir / "metrics.csv", resume_step),
      tensorboard_(run_dir) {
  events.subscribe([this](const Event& e) { jsonl_.write(e); });
  events.subscribe([this](const Event& e) { csv_.write(e); });
  events.subscribe([this](const Event& e) { tensorboard_.write(e); });
}

}  // namespace minimind
