// TensorBoard event files (see tensorboard_writer.h). The protobuf wire format is written directly:
// a key is (field_number << 3) | wire_type with wire types 0 varint, 1 fixed64, 2 length-delimited,
// 5 fixed32; integers are little-endian.
#include "train/tensorboard_writer.h"

#include <unistd.h>

#include <bit>
#include <cmath>
#include <stdexcept>

#include "io/crc32c.h"

namespace minimind {
namespace {

constexpr int kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;

void put_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void put_key(std::string& out, int field, int wire_type) {
  put_varint(out, static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(wire_type));
}

template <typename Unsigned>
void put_little_endian(std::string& out, Unsigned value) {
  for (size_t byte = 0; byte < sizeof(Unsigned); ++byte)
    out.push_back(static_cast<char>(value >> (8 * byte)));
}

void put_bytes_field(std::string& out, int field, std::string_view bytes) {
  put_key(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out.append(bytes);
}

// Event fields 1 and 2, common to every record.
std::string event_header(double wall_time, int64_t step) {
  std::string event;
  put_key(event, 1, kFixed64);
  put_little_endian(event, std::bit_cast<uint64_t>(wall_time));
  if (step != 0) {  // proto3 leaves default values out
    put_key(event, 2, kVarint);
    put_varint(event, static_cast<uint64_t>(step));  // negative int64: ten bytes of two's complement
  }
  return event;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

uint32_t masked_crc32c(std::string_view bytes) {
  const uint32_t crc = crc32c(bytes.data(), bytes.size());
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string frame_tfrecord(std::string_view data) {
  std::string record;
  record.reserve(data.size() + 16);
  put_little_endian(record, static_cast<uint64_t>(data.size()));
  put_little_endian(record, masked_crc32c(std::string_view(record).substr(0, 8)));
  record.append(data);
  put_little_endian(record, masked_crc32c(data));
  return record;
}

std::string encode_file_version_event(double wall_time) {
  std::string event = event_header(wall_time, 0);
  put_bytes_field(event, 3, "brain.Event:2");
  return event;
}

std::string encode_scalar_event(double wall_time, int64_t step, std::string_view tag, float value) {
  std::string summary_value;
  put_bytes_field(summary_value, 1, tag);
  put_key(summary_value, 2, kFixed32);
  put_little_endian(summary_value, std::bit_cast<uint32_t>(value));
  std::string summary;
  put_bytes_field(summary, 1, summary_value);
  std::string event = event_header(wall_time, step);
  put_bytes_field(event, 5, summary);
  return event;
}

TensorBoardWriter::TensorBoardWriter(const std::filesystem::path& run_directory,
                                     std::chrono::milliseconds flush_interval)
    : flush_interval_(flush_interval), last_flush_(std::chrono::steady_clock::now()) {
  const double wall_time = now_s();
  const std::string base =
      "events.out.tfevents." + std::to_string(static_cast<int64_t>(wall_time)) + "." + host_name();
  path_ = run_directory / base;
  for (int suffix = 1; std::filesystem::exists(path_); ++suffix) {
    path_ = run_directory / (base + "." + std::to_string(suffix));
  }
  file_.emplace(path_, "TensorBoard writer");
  append_record(encode_file_version_event(wall_time));
  flush();
}

TensorBoardWriter::~TensorBoardWriter() {
  try {
    flush();
  } catch (const std::exception&) {
    // A destructor cannot report it; the file still ends with a whole record.
  }
}

void TensorBoardWriter::append_record(std::string_view data) {
  pending_ += frame_tfrecord(data);
}

void TensorBoardWriter::add_scalar(std::string_view tag, float value, int64_t step, double wall_time) {
  append_record(encode_scalar_event(wall_time < 0 ? now_s() : wall_time, step, tag, value));
  if (std::chrono::steady_clock::now() - last_flush_ >= flush_interval_) flush();
}

void TensorBoardWriter::write(const Event& event) {
  const double wall_time = now_s();
  auto scalar = [&](std::string_view tag, double value, int64_t step) {
    add_scalar(tag, static_cast<float>(value), step, wall_time);
  };
  if (const auto* metrics = std::get_if<StepMetrics>(&event)) {
    const int64_t step = metrics->step;
    scalar("train/loss", metrics->loss, step);
    scalar("train/aux_loss", metrics->aux_loss, step);
    scalar("train/learning_rate", metrics->learning_rate, step);
    scalar("train/grad_norm", metrics->grad_norm, step);
    scalar("train/tokens_per_s", metrics->tokens_per_s, step);
    scalar("train/flops_per_s", metrics->flops_per_s, step);
    if (std::isfinite(metrics->mfu)) scalar("train/mfu", metrics->mfu, step);
    scalar("train/memory_bytes", static_cast<double>(metrics->memory_bytes), step);
    scalar("train/tokens_seen", static_cast<double>(metrics->tokens_seen), step);
  } else if (const auto* validation = std::get_if<ValidationResult>(&event)) {
    scalar("val/loss", validation->loss, validation->step);
    scalar("val/perplexity", validation->perplexity, validation->step);
    flush();  // rare and worth seeing at once
  } else if (const auto* skipped = std::get_if<SkippedStep>(&event)) {
    scalar("train/skipped_consecutive", static_cast<double>(skipped->consecutive), skipped->step);
  } else if (std::holds_alternative<RunFinished>(event)) {
    flush();  // the run is over: nothing waits in memory while the writer lingers (the lab keeps it)
  }
}

void TensorBoardWriter::flush() {
  last_flush_ = std::chrono::steady_clock::now();
  if (pending_.empty()) return;
  const std::string records = std::move(pending_);
  pending_.clear();
  file_->append(records);
}

}  // namespace minimind
