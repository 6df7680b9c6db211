// Reference: the written files read back line by line and compared with the events written (values
// exactly: JSON and the CSV's shortest form print doubles so they parse back to the same bits).
#include "train/metric_sinks.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

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

}  // namespace
}  // namespace minimind
