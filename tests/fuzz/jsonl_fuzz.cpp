// libFuzzer target for the corpus readers. The first byte picks the source kind (pretrain JSONL, SFT JSONL, a
// text file), skip or stop, the line cap and the read size; the rest is the file. Every document must come
// out as valid UTF-8 with a known role, the report must add up, and progress must reach the end. Each line is
// also parsed by the fast JSON parser and by nlohmann::json: they must agree on the record or on the reason
// it is refused (apart from nlohmann's own ways, listed in compare_parsers). Anything else -- a crash, a
// sanitizer report, an exception other than DataError under stop -- is a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "data/document_source.h"
#include "data/jsonl_record.h"
#include "text/utf8.h"

namespace {

using namespace minimind;

void check_document(const Document& document, SourceKind kind) {
  if (kind == SourceKind::sft_jsonl) {
    if (document.conversation.empty() || !document.text.empty()) __builtin_trap();
    for (const ChatMessage& message : document.conversation) {
      if (message.role != "system" && message.role != "user" && message.role != "assistant") __builtin_trap();
      if (!utf8::is_valid(message.content)) __builtin_trap();
    }
  } else {
    if (document.text.empty() || !document.conversation.empty()) __builtin_trap();
    if (!utf8::is_valid(document.text)) __builtin_trap();
  }
  if (document.line < 1) __builtin_trap();
}

// The fast parser and nlohmann's on one line.
void compare_parsers(std::string_view line, SourceKind kind) {
  // Where nlohmann differs on purpose: it skips a leading BOM (the reader allows one on line 1 only) and
  // takes a NUL byte for the end of the input (the fast parser refuses a NUL outside strings).
  if (line.starts_with("\xEF\xBB\xBF") || line.find('\0') != std::string_view::npos) return;
  Document fast, reference;
  const auto fast_issue = parse_jsonl_record(line, kind, fast, JsonParser::fast);
  const auto reference_issue = parse_jsonl_record(line, kind, reference, JsonParser::nlohmann);
  if (reference_issue && reference_issue->category == input_issue::kMalformedJson &&
      reference_issue->detail.find("out_of_range.406") != std::string::npos) {
    return;  // and it refuses a number beyond a double's range
  }
  if (fast_issue.has_value() != reference_issue.has_value()) __builtin_trap();
  if (fast_issue) {
    if (fast_issue->category != reference_issue->category) __builtin_trap();
  } else if (fast.text != reference.text || fast.conversation != reference.conversation) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t settings = data[0];
  const SourceKind kind = settings % 3 == 0   ? SourceKind::pretrain_jsonl
                          : settings % 3 == 1 ? SourceKind::sft_jsonl
                                              : SourceKind::text_folder;
  const OnBadInput on_bad_input = (settings >> 2) & 1 ? OnBadInput::stop : OnBadInput::skip;
  static constexpr int64_t kMaxLineBytes[] = {8, 64, 4096, DocumentSource::kDefaultMaxLineBytes};
  static constexpr int64_t kReadBlockBytes[] = {1, 3, 16, 4096};
  const int64_t max_line_bytes = kMaxLineBytes[(settings >> 3) & 3];
  const int64_t read_block_bytes = kReadBlockBytes[(settings >> 5) & 3];
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  auto source =
      DocumentSource::from_memory(kind, bytes, "fuzz-input", on_bad_input, max_line_bytes, read_block_bytes);
  Document document;
  int64_t documents = 0;
  int64_t previous_bytes_read = 0;
  bool stopped = false;
  try {
    while (source->next(document)) {
      check_document(document, kind);
      ++documents;
      if (source->bytes_read() < previous_bytes_read || source->bytes_read() > source->total_bytes()) {
        __builtin_trap();
      }
      previous_bytes_read = source->bytes_read();
    }
  } catch (const DataError&) {
    if (on_bad_input != OnBadInput::stop) __builtin_trap();
    stopped = true;
  }
  const SourceReport& report = source->report();
  if (report.documents != documents) __builtin_trap();
  const size_t recorded =
      static_cast<size_t>(std::min<int64_t>(report.skipped(), SourceReport::kMaxRecordedIssues));
  if (report.first_issues.size() != recorded) __builtin_trap();
  if (stopped && report.skipped() != 1) __builtin_trap();
  if (!stopped && source->bytes_read() != source->total_bytes()) __builtin_trap();
  if (source->total_bytes() != static_cast<int64_t>(bytes.size())) __builtin_trap();

  if (kind != SourceKind::text_folder) {
    size_t begin = 0;
    while (begin <= bytes.size()) {
      size_t end = bytes.find('\n', begin);
      if (end == std::string::npos) end = bytes.size();
      compare_parsers(std::string_view(bytes).substr(begin, end - begin), kind);
      begin = end + 1;
    }
  }
  return 0;
}
