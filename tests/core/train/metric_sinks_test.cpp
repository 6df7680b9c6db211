// Reference: the written files read back line by line and compared with the events written (values
// exactly: JSON and the CSV's shortest form print doubles so they parse back to the same bits). A file-size
// limit stands for a disk that fills up mid-line (the kernel writes part of the line, then refuses): the
// file must still end with its last whole line.
#include "train/metric_sinks.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <system_error>

#include "support/file_contents.h"
#include "support/file_size_limit.h"

namespace minimind {
namespace {

std::filesystem::path fresh_directory(const std::string& name) {
  const auto directory = std::filesystem::path(testing::TempDir()) / ("metric_sinks_test_" + name);
  std::filesystem::remove_all(directory);
  std::filesystem::create_directories(directory);
  return directory;
}

std::vector<std::string> lines_of(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream stream(line);
  for (std::string cell; std::getline(stream, cell, ',');) cells.push_back(cell);
  if (!line.empty() && line.back() == ',') cells.emplace_back();
  return cells;
}

StepMetrics metrics_at(int64_t step) {
  return StepMetrics{.step = step,
                     .epoch = 1,
                     .loss = 8.0 / (step + 1),
                     .learning_rate = 1e-3 * 0.1,
                     .grad_norm = 0.3,
                     .tokens_per_s = 12345.5,
                     .memory_bytes = 1 << 20,
                     .tokens_seen = step * 512};
}

TEST(MetricSinks, JsonlHasOneTypedObjectPerEvent) {
  const auto path = fresh_directory("jsonl") / "metrics.jsonl";
  {
    JsonlMetricsWriter writer(path);
    writer.write(metrics_at(3));
    writer.write(ValidationResult{.step = 3, .loss = 2.0, .perplexity = 7.38905609893065});
    writer.write(AttentionMaps{.step = 3});  // heavy snapshot: left out by default
    writer.write(SkippedStep{.step = 4, .reason = "loss is NaN", .consecutive = 1});
    writer.write(RunFinished{.step = 4, .reason = "completed"});
  }
  const auto lines = lines_of(path);
  ASSERT_EQ(lines.size(), 4u);
  const auto metrics = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(metrics["type"], "step_metrics");
  EXPECT_EQ(metrics["step"], 3);
  EXPECT_EQ(metrics["loss"].get<double>(), 8.0 / 4);
  EXPECT_EQ(metrics["learning_rate"].get<double>(), 1e-3 * 0.1);  // exact round trip
  EXPECT_TRUE(metrics["mfu"].is_null());                          // NaN: no peak known
  EXPECT_EQ(metrics["tokens_seen"], 3 * 512);
  EXPECT_EQ(nlohmann::json::parse(lines[1])["perplexity"].get<double>(), 7.38905609893065);
  EXPECT_EQ(nlohmann::json::parse(lines[2])["reason"], "loss is NaN");
  EXPECT_EQ(nlohmann::json::parse(lines[3])["type"], "run_finished");
}

TEST(MetricSinks, CsvHasHeaderOnceAndRowsForMetricsAndValidation) {
  const auto path = fresh_directory("csv") / "metrics.csv";
  {
    CsvMetricsWriter writer(path);
    writer.write(metrics_at(0));
    writer.write(Warning{.step = 0, .message = "ignored"});
    writer.write(ValidationResult{.step = 0, .loss = 2.5, .perplexity = 12.182493960703473});
  }
  {
    CsvMetricsWriter writer(path);  // a second run appends: no second header
    writer.write(metrics_at(1));
  }
  const auto lines = lines_of(path);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], CsvMetricsWriter::kCsvHeader);
  const auto header = split_csv(lines[0]);
  ASSERT_EQ(header.size(), 15u);
  for (size_t row = 1; row < lines.size(); ++row) EXPECT_EQ(split_csv(lines[row]).size(), 15u) << lines[row];
  const auto metrics = split_csv(lines[1]);
  EXPECT_EQ(metrics[0], "step_metrics");
  EXPECT_EQ(std::stod(metrics[3]), 8.0);
  EXPECT_EQ(std::stod(metrics[5]), 1e-3 * 0.1);
  EXPECT_EQ(metrics[9], "nan");
  EXPECT_EQ(metrics[10], "1048576");
  EXPECT_EQ(metrics[14], "");
  const auto validation = split_csv(lines[2]);
  EXPECT_EQ(validation[0], "validation");
  EXPECT_EQ(validation[3], "2.5");
  EXPECT_EQ(std::stod(validation[14]), 12.182493960703473);
  EXPECT_EQ(split_csv(lines[3])[1], "1");
}

TEST(MetricSinks, ResumeDropsRowsAfterTheCheckpointStep) {
  const auto directory = fresh_directory("resume");
  {
    CsvMetricsWriter csv(directory / "metrics.csv");
    JsonlMetricsWriter jsonl(directory / "metrics.jsonl");
    for (int64_t step = 0; step < 10; ++step) {
      csv.write(metrics_at(step));
      jsonl.write(metrics_at(step));
    }
  }
  {
    std::ofstream torn(directory / "metrics.jsonl", std::ios::app);
    torn << "{\"step\": 3, \"ty";  // a crash mid-line
  }
  {
    CsvMetricsWriter csv(directory / "metrics.csv", /*resume_step=*/5);
    JsonlMetricsWriter jsonl(directory / "metrics.jsonl", /*resume_step=*/5);
    for (int64_t step = 6; step < 8; ++step) {
      csv.write(metrics_at(step));
      jsonl.write(metrics_at(step));
    }
  }
  const auto csv_lines = lines_of(directory / "metrics.csv");
  const auto jsonl_lines = lines_of(directory / "metrics.jsonl");
  ASSERT_EQ(csv_lines.size(), 1u + 8);
  ASSERT_EQ(jsonl_lines.size(), 8u);
  for (int64_t step = 0; step < 8; ++step) {
    EXPECT_EQ(split_csv(csv_lines[step + 1])[1], std::to_string(step));
    EXPECT_EQ(nlohmann::json::parse(jsonl_lines[step])["step"], step);
  }
}

TEST(MetricSinks, CsvRefusesAFileWithOtherColumns) {
  const auto path = fresh_directory("other") / "metrics.csv";
  std::ofstream(path) << "step,loss\n0,1\n";
  try {
    CsvMetricsWriter writer(path);
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find(path.string()), std::string::npos) << error.what();
  }
}

TEST(MetricSinks, APartialLastLineIsDroppedWhenTheFileIsOpenedAgain) {
  const auto directory = fresh_directory("partial");
  // A run that died mid-line, then a new run (not a resume) appending to the same files.
  write_file(directory / "metrics.jsonl", "{\"step\": 1, \"type\": \"warning\"}\n{\"step\": 2, \"ty");
  write_file(directory / "metrics.csv", std::string(CsvMetricsWriter::kCsvHeader) + "\nstep_metrics,1,1,2.");
  {
    JsonlMetricsWriter jsonl(directory / "metrics.jsonl");
    CsvMetricsWriter csv(directory / "metrics.csv");
    jsonl.write(metrics_at(3));
    csv.write(metrics_at(3));
  }
  const auto jsonl_lines = lines_of(directory / "metrics.jsonl");
  ASSERT_EQ(jsonl_lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(jsonl_lines[1])["step"], 3);
  const auto csv_lines = lines_of(directory / "metrics.csv");
  ASSERT_EQ(csv_lines.size(), 2u);
  EXPECT_EQ(split_csv(csv_lines[1])[1], "3");
}

TEST(MetricSinks, ResumeDropsACsvRowCutAfterItsStep) {
  const auto directory = fresh_directory("csv_torn");
  {
    CsvMetricsWriter csv(directory / "metrics.csv");
    for (int64_t step = 1; step <= 4; ++step) csv.write(metrics_at(step));
  }
  {
    std::ofstream torn(directory / "metrics.csv", std::ios::app);
    torn << "step_metrics,5,1,2.";  // step 5's row, cut short: its step is readable, its values are not
  }
  {
    CsvMetricsWriter csv(directory / "metrics.csv", /*resume_step=*/5);
    csv.write(metrics_at(5));
  }
  const auto lines = lines_of(directory / "metrics.csv");
  ASSERT_EQ(lines.size(), 1u + 5);
  for (size_t row = 1; row < lines.size(); ++row) EXPECT_EQ(split_csv(lines[row]).size(), 15u) << lines[row];
}

// Writes events until the limit refuses one; returns the error's text.
template <typename Writer>
std::string write_until_refused(Writer& writer) {
  for (int64_t step = 1; step < 100000; ++step) {
    try {
      writer.write(metrics_at(step));
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::file_too_large);
      return e.what();
    }
  }
  ADD_FAILURE() << "the limit never refused a write";
  return "";
}

TEST(MetricSinks, AFullDiskNeverLeavesHalfALine) {
  const auto directory = fresh_directory("full");
  const auto jsonl_path = directory / "metrics.jsonl";
  const auto csv_path = directory / "metrics.csv";
  JsonlMetricsWriter jsonl(jsonl_path);
  CsvMetricsWriter csv(csv_path);
  std::string jsonl_error, csv_error;
  {
    const FileSizeLimit limit(4000);
    jsonl_error = write_until_refused(jsonl);
    csv_error = write_until_refused(csv);
  }
  EXPECT_NE(jsonl_error.find(jsonl_path.string()), std::string::npos) << jsonl_error;
  EXPECT_NE(jsonl_error.find("cut back"), std::string::npos) << jsonl_error;
  EXPECT_NE(csv_error.find(csv_path.string()), std::string::npos) << csv_error;
  for (const auto& path : {jsonl_path, csv_path}) {
    const std::string bytes = read_file(path);
    ASSERT_FALSE(bytes.empty());
    EXPECT_EQ(bytes.back(), '\n') << path;
    EXPECT_LE(bytes.size(), 4000u);
  }
  for (const std::string& line : lines_of(jsonl_path)) EXPECT_NO_THROW(nlohmann::json::parse(line)) << line;
  for (const std::string& line : lines_of(csv_path)) EXPECT_EQ(split_csv(line).size(), 15u) << line;

  // Once there is room again, the writers go on after the last whole line.
  const size_t lines_before = lines_of(jsonl_path).size();
  jsonl.write(Warning{.step = 9, .message = "room again"});
  const auto lines = lines_of(jsonl_path);
  ASSERT_EQ(lines.size(), lines_before + 1);
  EXPECT_EQ(nlohmann::json::parse(lines.back())["message"], "room again");
}

TEST(MetricSinks, FailuresAreMarkedInTheJsonl) {
  const auto path = fresh_directory("failure") / "metrics.jsonl";
  {
    JsonlMetricsWriter writer(path);
    writer.write(Warning{.step = 1, .message = "paused"});
    writer.write(Warning{.step = 2, .message = "the run's logs cannot be written", .failure = true});
    writer.write(RunFailed{.step = 3, .message = "training failed at step 3", .error = "disk full"});
  }
  const auto lines = lines_of(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["failure"], false);
  EXPECT_EQ(nlohmann::json::parse(lines[1])["failure"], true);
  const auto failed = nlohmann::json::parse(lines[2]);
  EXPECT_EQ(failed["type"], "run_failed");
  EXPECT_EQ(failed["error"], "disk full");
  EXPECT_TRUE(failed["last_checkpoint"].is_null());  // none written
}

}  // namespace
}  // namespace minimind
