// Reads a corpus from disk as a stream of documents, each with the file and line it came from, holding only a
// bounded piece of the input at a time (a multi-GB corpus is never loaded whole). Bad input -- malformed
// JSON, a missing or mistyped field, undecodable or empty files, overlong lines -- is reported with file,
// line and a count per reason, and then skipped or turned into a DataError, as the caller chooses.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "text/chat_message.h"

namespace minimind {

struct Document {
  std::string text;                       // pretraining text (text folder, pretrain JSONL); empty for SFT
  std::vector<ChatMessage> conversation;  // SFT JSONL; empty otherwise
  std::string file;                       // the file it came from
  int64_t line = 0;                       // the 1-based line of that file where it starts
};

enum class SourceKind {
  // Every *.txt file under a directory (or one file), UTF-8 or else GB18030 (which covers GBK and GB2312).
  text_folder,
  // One {"text": "..."} object per line; a path is a .jsonl file or a directory of them.
  pretrain_jsonl,
  // One {"conversations": [{"role": ..., "content": ...}, ...]} object per line.
  sft_jsonl,
};

enum class OnBadInput { skip, stop };

// The reasons bad input is counted under (SourceReport::skipped_by_reason keys).
namespace input_issue {
inline constexpr std::string_view kUnreadableFile = "unreadable file";
inline constexpr std::string_view kEmptyFile = "empty file";
inline constexpr std::string_view kUndecodableText = "undecodable text";  // neither UTF-8 nor GB18030
inline constexpr std::string_view kLineTooLong = "line too long";
inline constexpr std::string_view kInvalidUtf8 = "invalid UTF-8";
inline constexpr std::string_view kMalformedJson = "malformed JSON";
inline constexpr std::string_view kNotAnObject = "not a JSON object";
inline constexpr std::string_view kDuplicateKey = "duplicate key";  // a key twice in one object
inline constexpr std::string_view kTooDeep = "nested too deep";     // past kMaxJsonNesting levels
inline constexpr std::string_view kMissingField = "missing field";
inline constexpr std::string_view kWrongType = "wrong type";
inline constexpr std::string_view kEmptyText = "empty text";
inline constexpr std::string_view kEmptyConversation = "empty conversation";
inline constexpr std::string_view kUnknownRole = "unknown role";
}  // namespace input_issue

struct InputIssue {
  std::string file;
  int64_t line = 0;    // 1-based; 0 when the issue concerns the whole file
  std::string reason;  // the input_issue category, then what exactly was found
};

struct SourceReport {
  int64_t documents = 0;  // documents next() delivered
  int64_t bytes = 0;      // UTF-8 bytes of their text (SFT: of the message contents)
  std::map<std::string, int64_t> skipped_by_reason;  // bad lines and files, by input_issue category
  std::vector<InputIssue> first_issues;              // the first kMaxRecordedIssues of them, in order

  static constexpr size_t kMaxRecordedIssues = 100;
  int64_t skipped() const;  // the sum of skipped_by_reason
};

// Bad input met under OnBadInput::stop, or a corpus path that cannot be read at all.
class DataError : public std::runtime_error {
 public:
  DataError(std::string file, int64_t line, std::string reason);
  const std::string& file() const { return file_; }
  int64_t line() const { return line_; }  // 0: the whole file
  const std::string& reason() const { return reason_; }

 private:
  std::string file_;
  int64_t line_;
  std::string reason_;
};

class DocumentSource {
 public:
  static constexpr int64_t kDefaultMaxLineBytes = int64_t{64} << 20;
  static constexpr int64_t kDefaultReadBlockBytes = int64_t{4} << 20;

  // `path` is a directory (its files of the kind's extension, .txt or .jsonl, found recursively and read in
  // sorted path order, so the order never depends on the file system) or a single file. Throws DataError when
  // the path does not exist or a directory holds no such file.
  //
  // max_line_bytes bounds what is held at once: a longer JSONL line is skipped (its bytes are read past,
  // never stored) and reported. A text file up to that size is one document; a larger one is read in blocks
  // of about that size, each cut after its last paragraph break ("\n\n"; else the last line break; else where
  // the block ends), and every piece is a document with the line it starts at. Downstream splitting cuts at
  // paragraphs first anyway, so the pieces change little there, and a 2 GB novel never sits in memory whole.
  // No piece is blank: whitespace joins the next piece, except a run of it longer than a block or one left
  // alone at the end of a file, which is dropped.
  //
  // A text file is read as UTF-8. When it holds bytes that are not UTF-8 and no multi-byte UTF-8 character
  // came before them, it is read as GB18030 instead (a superset of GBK and GB2312, decoded by iconv), as the
  // seed reads such files; when that fails too, the file is undecodable.
  static std::unique_ptr<DocumentSource> open(SourceKind kind, const std::filesystem::path& path,
                                              OnBadInput on_bad_input,
                                              int64_t max_line_bytes = kDefaultMaxLineBytes);

  // The same reading over bytes held in memory, as if they were one file called `name` (fuzzing, tests).
  // read_block_bytes is the size of each JSONL read (smaller values exercise lines that straddle reads); text
  // is read in blocks of max_line_bytes.
  static std::unique_ptr<DocumentSource> from_memory(SourceKind kind, std::string bytes, std::string name,
                                                     OnBadInput on_bad_input,
                                                     int64_t max_line_bytes = kDefaultMaxLineBytes,
                                                     int64_t read_block_bytes = kDefaultReadBlockBytes);

  ~DocumentSource();
  DocumentSource(const DocumentSource&) = delete;
  DocumentSource& operator=(const DocumentSource&) = delete;

  // Fills `document` with the next one and returns true, or returns false at the end. Bad input on the way is
  // counted in report(); with OnBadInput::stop the first one throws DataError (after which next() returns
  // false).
  bool next(Document& document);

  const SourceReport& report() const;
  int64_t bytes_read() const;   // input bytes consumed so far, for progress
  int64_t total_bytes() const;  // the size of all input files together

  class Reader;  // the format readers, in document_source.cpp

 private:
  explicit DocumentSource(std::unique_ptr<Reader> reader);
  std::unique_ptr<Reader> reader_;
};

}  // namespace minimind
