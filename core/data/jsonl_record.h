// One line of a JSONL corpus made into a document's content -- the "text" of a pretraining record or the
// messages of an SFT record -- or the reason it cannot be, as an input_issue category and the details.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "data/document_source.h"

namespace minimind {

struct RecordIssue {
  std::string_view category;  // one of input_issue::k*
  std::string detail;
};

// fast: json_sax_parser.h. nlohmann: nlohmann::json::sax_parse, the reference the fast parser is checked
// against (they differ only in that nlohmann refuses numbers beyond the range of a double).
enum class JsonParser { fast, nlohmann };

// Reads one non-blank line of a pretrain_jsonl or sft_jsonl source into document.text or
// document.conversation (the other fields are left alone). The line is checked to be UTF-8 first. SFT
// messages name their role with "role" (system, user, assistant) or ShareGPT's "from" (human, gpt) and their
// text with "content" or "value"; without either role field the turns alternate user, assistant, as in
// MiniMind's earlier SFT data. Fields other than these are skipped without being stored.
std::optional<RecordIssue> parse_jsonl_record(std::string_view line, SourceKind kind, Document& document,
                                              JsonParser parser = JsonParser::fast);

}  // namespace minimind
