// JSONL and CSV log writers (see metric_sinks.h).
#include "train/metric_sinks.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "io/atomic_file.h"

namespace minimind {
namespace {

nlohmann::json number(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
}

std::string shortest(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

constexpr const char* kErrorPrefix = "metrics log";

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::system_error(errno, std::generic_category(),
                            std::string(kErrorPrefix) + ": " + path.string() + ": reading");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(std::move(line));
  return lines;
}

// Rewrites `path` keeping the lines for which `keep` is true, atomically.
void keep_lines(const std::filesystem::path& path, const std::vector<std::string>& lines,
                const std::function<bool(const std::string&)>& keep) {
  write_file_atomically(path, [&](std::ostream& out) {
    for (const std::string& line : lines) {
      if (keep(line)) out << line << '\n';
    }
  });
}

bool is_nonempty_file(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error) && std::filesystem::file_size(path, error) > 0;
}

// The JSONL file made ready for appending: its partial last line dropped, and given `resume_step`, the lines
// of later steps too. Returns `path`.
const std::filesystem::path& prepare_jsonl(const std::filesystem::path& path,
                                           std::optional<int64_t> resume_step) {
  drop_partial_last_line(path, kErrorPrefix);
  if (resume_step && is_nonempty_file(path)) {
    keep_lines(path, read_lines(path), [&](const std::string& line) {
      const nlohmann::json json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      return !json.is_discarded() && json.contains("step") && json["step"].is_number_integer() &&
             json["step"].get<int64_t>() <= *resume_step;
    });
  }
  return path;
}

// The CSV file made ready for appending (see prepare_jsonl); refuses a file with other columns.
const std::filesystem::path& prepare_csv(const std::filesystem::path& path,
                                         std::optional<int64_t> resume_step) {
  drop_partial_last_line(path, kErrorPrefix);
  if (!is_nonempty_file(path)) return path;
  const std::vector<std::string> lines = read_lines(path);
  if (lines.empty() || lines.front() != CsvMetricsWriter::kCsvHeader) {
    throw std::runtime_error(std::string(kErrorPrefix) + ": " + path.string() +
                             " exists with other columns than this writer's; expected the header \"" +
                             CsvMetricsWriter::kCsvHeader + "\"");
  }
  if (resume_step) {
    bool header = true;
    keep_lines(path, lines, [&](const std::string& line) {
      if (std::exchange(header, false)) return true;
      // type,step,...: keep the rows whose step is at most resume_step.
      const size_t first_comma = line.find(',');
      if (first_comma == std::string::npos) return false;
      int64_t step = 0;
      const char* begin = line.data() + first_comma + 1;
      const char* end = line.data() + line.size();
      const auto [ptr, error] = std::from_chars(begin, end, step);
      return error == std::errc() && ptr != end && *ptr == ',' && step <= *resume_step;
    });
  }
  return path;
}

}  // namespace

nlohmann::json event_to_json(const Event& event) {
  nlohmann::json json = std::visit(
      [](const auto& e) -> nlohmann::json {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, StepMetrics>) {
          return {{"step", e.step},
                  {"epoch", e.epoch},
                  {"loss", number(e.loss)},
                  {"aux_loss", number(e.aux_loss)},
                  {"learning_rate", number(e.learning_rate)},
                  {"grad_norm", number(e.grad_norm)},
                  {"tokens_per_s", number(e.tokens_per_s)},
                  {"flops_per_s", number(e.flops_per_s)},
                  {"mfu", number(e.mfu)},
                  {"memory_bytes", e.memory_bytes},
                  {"eta_s", number(e.eta_s)},
                  {"elapsed_s", number(e.elapsed_s)},
                  {"tokens_seen", e.tokens_seen}};
        } else if constexpr (std::is_same_v<T, ValidationResult>) {
          return {{"step", e.step}, {"loss", number(e.loss)}, {"perplexity", number(e.perplexity)}};
        } else if constexpr (std::is_same_v<T, CheckpointWritten>) {
          return {{"step", e.step}, {"path", e.path}, {"is_best", e.is_best}};
        } else if constexpr (std::is_same_v<T, Warning>) {
          return {{"step", e.step}, {"message", e.message}, {"failure", e.failure}};
        } else if constexpr (std::is_same_v<T, SkippedStep>) {
          return {{"step", e.step}, {"reason", e.reason}, {"consecutive", e.consecutive}};
        } else if constexpr (std::is_same_v<T, MoeLoad>) {
          return {{"step", e.step}, {"expert_fraction", e.expert_fraction}};
        } else if constexpr (std::is_same_v<T, AttentionMaps>) {
          return {{"step", e.step},
                  {"num_layers", e.num_layers},
                  {"num_heads", e.num_heads},
                  {"tokens", e.tokens},
                  {"weights", e.weights}};
        } else if constexpr (std::is_same_v<T, RopeTable>) {
          return {{"step", e.step},
                  {"head_dim", e.head_dim},
                  {"max_positions", e.max_positions},
                  {"base_frequencies", e.base_frequencies},
                  {"frequencies", e.frequencies}};
        } else if constexpr (std::is_same_v<T, SampleText>) {
          return {{"step", e.step}, {"prompt", e.prompt}, {"text", e.text}};
        } else if constexpr (std::is_same_v<T, RunFailed>) {
          return {{"step", e.step},
                  {"message", e.message},
                  {"error", e.error},
                  {"last_checkpoint",
                   e.last_checkpoint.empty() ? nlohmann::json() : nlohmann::json(e.last_checkpoint)}};
        } else {
          static_assert(std::is_same_v<T, RunFinished>);
          return {{"step", e.step}, {"reason", e.reason}};
        }
      },
      event);
  json["type"] = event_type(event);
  return json;
}

JsonlMetricsWriter::JsonlMetricsWriter(const std::filesystem::path& path, std::optional<int64_t> resume_step,
                                       bool include_snapshots)
    : path_(prepare_jsonl(path, resume_step)),
      file_(path_, kErrorPrefix),
      include_snapshots_(include_snapshots) {}

void JsonlMetricsWriter::write(const Event& event) {
  if (is_heavy_snapshot(event) && !include_snapshots_) return;
  file_.append(event_to_json(event).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n');
}

CsvMetricsWriter::CsvMetricsWriter(const std::filesystem::path& path, std::optional<int64_t> resume_step)
    : path_(prepare_csv(path, resume_step)), file_(path_, kErrorPrefix) {
  if (file_.size() == 0) file_.append(std::string(kCsvHeader) + '\n');
}

void CsvMetricsWriter::write(const Event& event) {
  std::ostringstream row;
  if (const auto* m = std::get_if<StepMetrics>(&event)) {
    row << "step_metrics," << m->step << ',' << m->epoch << ',' << shortest(m->loss) << ','
        << shortest(m->aux_loss) << ',' << shortest(m->learning_rate) << ',' << shortest(m->grad_norm) << ','
        << shortest(m->tokens_per_s) << ',' << shortest(m->flops_per_s) << ',' << shortest(m->mfu) << ','
        << m->memory_bytes << ',' << shortest(m->eta_s) << ',' << shortest(m->elapsed_s) << ','
        << m->tokens_seen << ',';
  } else if (const auto* v = std::get_if<ValidationResult>(&event)) {
    row << "validation," << v->step << ",," << shortest(v->loss) << ",,,,,,,,,,," << shortest(v->perplexity);
  } else {
    return;
  }
  row << '\n';
  file_.append(row.str());
}

}  // namespace minimind
