// The corpus readers behind DocumentSource: a text-folder reader (UTF-8 or GB18030 through iconv, BOM and
// CR/CRLF normalised, large files in paragraph-cut blocks) and a JSONL reader (lines read through a fixed
// buffer with a length cap, each line made a record by jsonl_record.h).
#include "data/document_source.h"

#include <fcntl.h>
#include <iconv.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <system_error>
#include <utility>

#include "data/jsonl_record.h"
#include "text/utf8.h"

namespace minimind {
namespace {

namespace fs = std::filesystem;

std::string describe_location(const std::string& file, int64_t line, const std::string& reason) {
  return line > 0 ? file + ":" + std::to_string(line) + ": " + reason : file + ": " + reason;
}

constexpr const char* kAsciiWhitespace = " \t\n\r\f\v";

bool is_blank(std::string_view text) {
  return text.find_first_not_of(kAsciiWhitespace) == std::string_view::npos;
}

bool has_non_ascii(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// ---------------------------------------------------------------------------------------------------------
// Inputs: files on disk or bytes in memory, read front to back.

struct InputFile {
  std::string name;  // as documents and issues name it
  fs::path path;     // empty for memory input
  std::shared_ptr<const std::string> memory;
  int64_t size = 0;
};

// A read that failed (open or read(2)); the reader reports it as an unreadable file.
class ReadFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ByteInput {
 public:
  virtual ~ByteInput() = default;
  // Up to `capacity` bytes; 0 only at the end. Throws ReadFailure.
  virtual size_t read(char* destination, size_t capacity) = 0;
};

class FileInput final : public ByteInput {
 public:
  explicit FileInput(const fs::path& path) : descriptor_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (descriptor_ < 0) throw ReadFailure(std::strerror(errno));
    ::posix_fadvise(descriptor_, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  ~FileInput() override { ::close(descriptor_); }
  FileInput(const FileInput&) = delete;
  FileInput& operator=(const FileInput&) = delete;

  size_t read(char* destination, size_t capacity) override {
    for (;;) {
      const ssize_t count = ::read(descriptor_, destination, capacity);
      if (count >= 0) return static_cast<size_t>(count);
      if (errno != EINTR) throw ReadFailure(std::strerror(errno));
    }
  }

 private:
  int descriptor_;
};

class MemoryInput final : public ByteInput {
 public:
  explicit MemoryInput(std::shared_ptr<const std::string> bytes) : bytes_(std::move(bytes)) {}
  size_t read(char* destination, size_t capacity) override {
    const size_t count = std::min(capacity, bytes_->size() - position_);
    std::memcpy(destination, bytes_->data() + position_, count);
    position_ += count;
    return count;
  }

 private:
  std::shared_ptr<const std::string> bytes_;
  size_t position_ = 0;
};

std::unique_ptr<ByteInput> open_input(const InputFile& file) {
  if (file.memory) return std::make_unique<MemoryInput>(file.memory);
  return std::make_unique<FileInput>(file.path);
}

// Reads until `capacity` bytes or the end.
size_t read_fully(ByteInput& input, char* destination, size_t capacity) {
  size_t total = 0;
  while (total < capacity) {
    const size_t count = input.read(destination + total, capacity - total);
    if (count == 0) break;
    total += count;
  }
  return total;
}

// Lines through one reusable buffer. A line that fits in the buffer is handed out as a view into it; one
// that straddles reads is assembled in `pending_`; one longer than the cap is read past and only measured.
class LineReader {
 public:
  struct Line {
    std::string_view text;  // without the '\n'; empty when too_long
    int64_t number = 0;     // 1-based
    int64_t bytes = 0;      // the line's full length
    bool too_long = false;
  };

  LineReader(ByteInput& input, size_t block_bytes, int64_t max_line_bytes, int64_t& bytes_read)
      : input_(input), block_(block_bytes), max_line_bytes_(max_line_bytes), bytes_read_(bytes_read) {}

  // False at the end of the input. The view stays valid until the next call. Throws ReadFailure.
  bool next(Line& line) {
    pending_.clear();
    bool started = false;
    bool too_long = false;
    int64_t length = 0;
    const char* direct = nullptr;  // the line, when it lies whole in the buffer
    for (;;) {
      if (begin_ == end_) {
        begin_ = 0;
        end_ = input_.read(block_.data(), block_.size());
        bytes_read_ += static_cast<int64_t>(end_);
        if (end_ == 0) {
          if (!started) return false;
          break;  // the last line, without a final '\n'
        }
      }
      started = true;
      const char* start = block_.data() + begin_;
      const size_t available = end_ - begin_;
      const auto* newline = static_cast<const char*>(std::memchr(start, '\n', available));
      const size_t piece = newline ? static_cast<size_t>(newline - start) : available;
      if (!too_long) {
        if (length + static_cast<int64_t>(piece) > max_line_bytes_) {
          too_long = true;
          pending_.clear();
          pending_.shrink_to_fit();
        } else if (newline && length == 0) {
          direct = start;
        } else {
          pending_.append(start, piece);
        }
      }
      length += static_cast<int64_t>(piece);
      begin_ += piece + (newline ? 1 : 0);
      if (newline) break;
    }
    line.number = ++line_number_;
    line.bytes = length;
    line.too_long = too_long;
    line.text = too_long ? std::string_view() : direct ? std::string_view(direct, length) : pending_;
    return true;
  }

  int64_t line_number() const { return line_number_; }

  // Frees a line assembled beyond the size of the read buffer once the caller is done with it (the next
  // call would only clear it), so that a long line is not held while its document is tokenized.
  void release_long_line() {
    if (pending_.capacity() > block_.size()) std::string().swap(pending_);
  }

 private:
  ByteInput& input_;
  std::vector<char> block_;
  size_t begin_ = 0, end_ = 0;  // unread bytes of block_
  int64_t max_line_bytes_;
  int64_t& bytes_read_;
  std::string pending_;
  int64_t line_number_ = 0;
};

// An iconv conversion descriptor, closed on destruction.
class Iconv {
 public:
  Iconv(const char* to, const char* from) : descriptor_(::iconv_open(to, from)) {}
  ~Iconv() {
    if (valid()) ::iconv_close(descriptor_);
  }
  Iconv(const Iconv&) = delete;
  Iconv& operator=(const Iconv&) = delete;
  bool valid() const { return descriptor_ != reinterpret_cast<iconv_t>(-1); }
  iconv_t get() const { return descriptor_; }

 private:
  iconv_t descriptor_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// The part every reader shares: the file list, progress and the report.

class DocumentSource::Reader {
 public:
  Reader(std::vector<InputFile> files, OnBadInput on_bad_input, int64_t max_line_bytes,
         int64_t read_block_bytes)
      : files_(std::move(files)),
        on_bad_input_(on_bad_input),
        max_line_bytes_(max_line_bytes),
        read_block_bytes_(read_block_bytes) {
    for (const InputFile& file : files_) total_bytes_ += file.size;
  }
  virtual ~Reader() = default;

  bool next(Document& document) {
    if (finished_) return false;
    try {
      if (next_document(document)) {
        ++report_.documents;
        report_.bytes += static_cast<int64_t>(document.text.size());
        for (const ChatMessage& message : document.conversation) {
          report_.bytes += static_cast<int64_t>(message.content.size());
        }
        return true;
      }
    } catch (...) {
      finished_ = true;
      throw;
    }
    finished_ = true;
    return false;
  }

  const SourceReport& report() const { return report_; }
  int64_t bytes_read() const { return finished_files_bytes_ + current_file_bytes_; }
  int64_t total_bytes() const { return total_bytes_; }

 protected:
  virtual bool next_document(Document& document) = 0;

  // Counts the issue under `category` and keeps it if it is among the first; under OnBadInput::stop, throws.
  void report_issue(const std::string& file, int64_t line, std::string_view category,
                    std::string_view detail) {
    ++report_.skipped_by_reason[std::string(category)];
    std::string reason(category);
    if (!detail.empty()) reason += ": " + std::string(detail);
    if (report_.first_issues.size() < SourceReport::kMaxRecordedIssues) {
      report_.first_issues.push_back({file, line, reason});
    }
    if (on_bad_input_ == OnBadInput::stop) throw DataError(file, line, reason);
  }

  // Progress: the file in hand is done (read to its end, or abandoned), so all its bytes count.
  void finish_file_progress(const InputFile& file) {
    finished_files_bytes_ += std::max(file.size, current_file_bytes_);
    current_file_bytes_ = 0;
  }

  // Takes the next file of the list into file_ and opens it as input_; an unreadable one is reported (its
  // bytes count as read) and false returned.
  bool open_next_input() {
    file_ = &files_[next_file_++];
    try {
      input_ = open_input(*file_);
    } catch (const ReadFailure& failure) {
      finish_file_progress(*file_);
      report_issue(file_->name, 0, input_issue::kUnreadableFile, failure.what());
      return false;
    }
    return true;
  }

  std::vector<InputFile> files_;
  size_t next_file_ = 0;
  const InputFile* file_ = nullptr;  // the file in hand
  std::unique_ptr<ByteInput> input_;
  OnBadInput on_bad_input_;
  int64_t max_line_bytes_;
  int64_t read_block_bytes_;
  int64_t current_file_bytes_ = 0;  // bytes read from the file in hand

 private:
  SourceReport report_;
  int64_t total_bytes_ = 0;
  int64_t finished_files_bytes_ = 0;
  bool finished_ = false;
};

namespace {

// ---------------------------------------------------------------------------------------------------------
// Text files.

class TextFolderReader final : public DocumentSource::Reader {
 public:
  using Reader::Reader;

 protected:
  bool next_document(Document& document) override {
    for (;;) {
      if (!input_) {
        if (next_file_ == files_.size()) return false;
        if (!open_next_file()) continue;
      }
      if (next_piece(document)) return true;
    }
  }

 private:
  // undecided: only ASCII so far, which reads the same in both.
  enum class Encoding { undecided, utf8, gb18030 };

  bool open_next_file() {
    encoding_ = Encoding::undecided;
    carry_.clear();
    pending_.clear();
    pending_line_ = 1;
    cr_pending_ = false;
    at_file_start_ = true;
    end_of_input_ = false;
    has_text_ = false;
    return open_next_input();
  }

  // Ends the file in hand; an issue about it (if any) is reported after, so a DataError leaves no file open.
  void close_file() {
    input_.reset();
    finish_file_progress(*file_);
    std::string().swap(pending_);
    std::vector<char>().swap(raw_);
  }

  void abandon_file(int64_t line, std::string_view category, const std::string& detail) {
    close_file();
    report_issue(file_->name, line, category, detail);
  }

  // The next document of the file in hand, or false when the file is done.
  bool next_piece(Document& document) {
    const size_t block_bytes = static_cast<size_t>(max_line_bytes_);
    for (;;) {
      try {
        // Fill up to a block; a file of exactly the known size is read to its end, so a file that fits in a
        // block is always one document.
        while (!end_of_input_ && (pending_.size() < block_bytes || current_file_bytes_ == file_->size)) {
          if (!read_and_decode(block_bytes)) return false;
        }
      } catch (const ReadFailure& failure) {
        abandon_file(line_at(0), input_issue::kUnreadableFile, failure.what());
        return false;
      }
      if (pending_.empty()) {
        const bool empty = !has_text_;
        close_file();
        if (empty) {
          report_issue(file_->name, 0, input_issue::kEmptyFile,
                       file_->size == 0 ? "0 bytes" : "nothing but whitespace");
        }
        return false;
      }
      const size_t first_text = pending_.find_first_not_of(kAsciiWhitespace);
      if (first_text == std::string::npos) {
        // Only whitespace: it joins the next piece while it stays under a block (a longer run of nothing but
        // whitespace, or whitespace ending the file, is dropped: no piece is ever blank).
        if (!end_of_input_ && pending_.size() < block_bytes) continue;
        pending_line_ += std::count(pending_.begin(), pending_.end(), '\n');
        pending_.clear();
        continue;
      }
      // Cut after the last paragraph break, else the last line break, that follows some text.
      size_t cut = pending_.size();
      if (!end_of_input_) {
        const size_t paragraph = pending_.rfind("\n\n");
        const size_t newline = pending_.rfind('\n');
        if (paragraph != std::string::npos && paragraph > first_text) {
          cut = paragraph + 2;
        } else if (newline != std::string::npos && newline > first_text) {
          cut = newline + 1;
        }
      }
      document.text.assign(pending_, 0, cut);
      pending_.erase(0, cut);
      document.line = pending_line_;
      pending_line_ += std::count(document.text.begin(), document.text.end(), '\n');
      has_text_ = true;
      document.file = file_->name;
      document.conversation.clear();
      return true;
    }
  }

  // The line of byte `offset` of the raw bytes just read (approximate after lone CRs).
  int64_t line_at(size_t offset, std::string_view raw = {}) const {
    return pending_line_ + std::count(pending_.begin(), pending_.end(), '\n') +
           std::count(raw.begin(), raw.begin() + std::min(offset, raw.size()), '\n');
  }

  // Reads more of the file, decodes it and appends it to pending_. False when the file was abandoned.
  bool read_and_decode(size_t block_bytes) {
    // Up to a block, but no more than the rest of the file (+1 to see its end) so a small file costs no
    // block-sized buffer; 64 KiB at least in case the file grew since it was listed.
    const int64_t rest_of_file = std::max<int64_t>(file_->size - current_file_bytes_, 0) + 1;
    const size_t wanted = std::min(block_bytes > pending_.size() ? block_bytes - pending_.size() : size_t{1},
                                   static_cast<size_t>(std::max<int64_t>(rest_of_file, int64_t{64} << 10)));
    raw_.resize(carry_.size() + wanted);
    std::memcpy(raw_.data(), carry_.data(), carry_.size());
    const size_t count = read_fully(*input_, raw_.data() + carry_.size(), wanted);
    current_file_bytes_ += static_cast<int64_t>(count);
    const std::string_view raw(raw_.data(), carry_.size() + count);
    carry_.clear();
    if (count == 0) {
      end_of_input_ = true;
      if (raw.empty()) return true;
      // A character cut off by the end of the file.
      if (encoding_ == Encoding::undecided) {
        encoding_ = Encoding::gb18030;
        if (!decode_gb18030(raw, "its last bytes are an incomplete UTF-8 character")) return false;
        if (carry_.empty()) return true;
      }
      abandon_file(line_at(raw.size(), raw), input_issue::kUndecodableText,
                   encoding_ == Encoding::utf8 ? "the file ends inside a UTF-8 character"
                                               : "the file ends inside a GB18030 character");
      return false;
    }
    if (encoding_ == Encoding::gb18030) return decode_gb18030(raw, "");
    const utf8::Validation validation = utf8::validate(raw);
    if (validation.valid_bytes == raw.size() || validation.truncated_tail) {
      const std::string_view valid = raw.substr(0, validation.valid_bytes);
      if (encoding_ == Encoding::undecided && has_non_ascii(valid)) encoding_ = Encoding::utf8;
      append_normalized(valid);
      carry_.assign(raw.substr(validation.valid_bytes));
      return true;
    }
    const int64_t invalid_line = line_at(validation.valid_bytes, raw);
    if (encoding_ == Encoding::undecided) {
      // Everything before these bytes was ASCII, so reading the file as GB18030 from here on matches reading
      // it so from the start (the seed decodes a file that is not UTF-8 as GBK, whole).
      encoding_ = Encoding::gb18030;
      return decode_gb18030(raw, "not UTF-8: invalid byte at line " + std::to_string(invalid_line));
    }
    abandon_file(invalid_line, input_issue::kUndecodableText,
                 "invalid UTF-8 at byte " +
                     std::to_string(current_file_bytes_ - (raw.size() - validation.valid_bytes)) +
                     " of a file read as UTF-8 so far");
    return false;
  }

  bool decode_gb18030(std::string_view raw, const std::string& why_not_utf8) {
    const std::string prefix = why_not_utf8.empty() ? "" : why_not_utf8 + ", and ";
    if (!gb18030_) gb18030_ = std::make_unique<Iconv>("UTF-8", "GB18030");
    if (!gb18030_->valid()) {
      abandon_file(0, input_issue::kUndecodableText, prefix + "GB18030 decoding is unavailable (iconv_open)");
      return false;
    }
    // GB18030 takes 1, 2 or 4 bytes per character, UTF-8 at most 3 for each 2-byte and 4 for each 4-byte
    // one: twice the input always suffices.
    decoded_.resize(raw.size() * 2 + 16);
    char* in = const_cast<char*>(raw.data());  // iconv's interface is not const-correct; it only reads
    size_t in_left = raw.size();
    char* out = decoded_.data();
    size_t out_left = decoded_.size();
    ::iconv(gb18030_->get(), nullptr, nullptr, nullptr, nullptr);  // initial state
    const size_t result = ::iconv(gb18030_->get(), &in, &in_left, &out, &out_left);
    const size_t consumed = raw.size() - in_left;
    if (result == static_cast<size_t>(-1) && errno != EINVAL) {
      abandon_file(line_at(consumed, raw), input_issue::kUndecodableText,
                   prefix + "not GB18030 either: invalid byte at byte " +
                       std::to_string(current_file_bytes_ - static_cast<int64_t>(raw.size() - consumed)));
      return false;
    }
    append_normalized(std::string_view(decoded_.data(), decoded_.size() - out_left));
    carry_.assign(raw.substr(consumed));  // EINVAL: a character cut off by the end of the read
    return true;
  }

  // Appends decoded text with the BOM dropped and CRLF and lone CR turned into LF, across reads.
  void append_normalized(std::string_view text) {
    if (at_file_start_ && !text.empty()) {
      if (text.starts_with(kUtf8Bom)) text.remove_prefix(kUtf8Bom.size());
      at_file_start_ = false;
    }
    if (cr_pending_ && !text.empty()) {
      if (text.front() == '\n') text.remove_prefix(1);
      cr_pending_ = false;
    }
    for (;;) {
      const size_t cr = text.find('\r');
      if (cr == std::string_view::npos) {
        pending_.append(text);
        return;
      }
      pending_.append(text.substr(0, cr));
      pending_ += '\n';
      if (cr + 1 == text.size()) {
        cr_pending_ = true;  // a '\n' opening the next read belongs to this CR
        return;
      }
      text.remove_prefix(cr + 1);
      if (text.front() == '\n') text.remove_prefix(1);
    }
  }

  std::unique_ptr<Iconv> gb18030_;
  Encoding encoding_ = Encoding::undecided;
  std::vector<char> raw_;     // the bytes of the current read
  std::string carry_;         // raw bytes of a character cut off by the end of the previous read
  std::string decoded_;       // GB18030 output
  std::string pending_;       // decoded, normalised text not yet handed out
  int64_t pending_line_ = 1;  // the line pending_ starts at
  bool cr_pending_ = false;
  bool at_file_start_ = true;
  bool end_of_input_ = false;
  bool has_text_ = false;  // some non-blank text was handed out
};

// ---------------------------------------------------------------------------------------------------------
// JSONL files.

class JsonlReader final : public DocumentSource::Reader {
 public:
  JsonlReader(SourceKind kind, std::vector<InputFile> files, OnBadInput on_bad_input, int64_t max_line_bytes,
              int64_t read_block_bytes)
      : Reader(std::move(files), on_bad_input, max_line_bytes, read_block_bytes), kind_(kind) {}

 protected:
  bool next_document(Document& document) override {
    for (;;) {
      if (!lines_) {
        if (next_file_ == files_.size()) return false;
        if (!open_next_file()) continue;
      }
      LineReader::Line line;
      bool got_line = false;
      try {
        got_line = lines_->next(line);
      } catch (const ReadFailure& failure) {
        const int64_t line_number = lines_->line_number() + 1;
        close_file();
        report_issue(file_->name, line_number, input_issue::kUnreadableFile, failure.what());
        continue;
      }
      if (!got_line) {
        const bool empty = !has_records_;
        close_file();
        if (empty) {
          report_issue(file_->name, 0, input_issue::kEmptyFile,
                       file_->size == 0 ? "0 bytes" : "nothing but blank lines");
        }
        continue;
      }
      if (line.too_long) {
        has_records_ = true;
        report_issue(
            file_->name, line.number, input_issue::kLineTooLong,
            std::to_string(line.bytes) + " bytes, more than the limit of " + std::to_string(max_line_bytes_));
        continue;
      }
      std::string_view text = line.text;
      if (line.number == 1 && text.starts_with(kUtf8Bom)) text.remove_prefix(kUtf8Bom.size());
      if (is_blank(text)) continue;
      has_records_ = true;
      const bool parsed = parse_record(text, line.number, document);
      lines_->release_long_line();
      if (parsed) return true;
    }
  }

 private:
  bool open_next_file() {
    has_records_ = false;
    if (!open_next_input()) return false;
    // The read buffer need not outgrow the file (many small files would each pay for a large one).
    const int64_t buffer_bytes = std::min(read_block_bytes_, std::max(file_->size + 1, int64_t{64} << 10));
    lines_ = std::make_unique<LineReader>(*input_, static_cast<size_t>(buffer_bytes), max_line_bytes_,
                                          current_file_bytes_);
    return true;
  }

  void close_file() {
    lines_.reset();
    input_.reset();
    finish_file_progress(*file_);
  }

  // Fills `document` from one non-blank line, or reports why it cannot and returns false.
  bool parse_record(std::string_view text, int64_t line_number, Document& document) {
    std::optional<RecordIssue> issue = parse_jsonl_record(text, kind_, document);
    if (issue) {
      report_issue(file_->name, line_number, issue->category, issue->detail);
      return false;
    }
    document.file = file_->name;
    document.line = line_number;
    return true;
  }

  SourceKind kind_;
  std::unique_ptr<LineReader> lines_;  // reads input_
  bool has_records_ = false;           // a non-blank line was met in the file in hand
};

// The input files under `path`: the files with `extension` below a directory, sorted, or `path` itself.
std::vector<InputFile> list_input_files(const fs::path& path, std::string_view extension) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (error || !fs::exists(status)) {
    throw DataError(path.string(), 0,
                    "cannot read the corpus path: " +
                        (error ? error.message() : std::string("no such file or directory")));
  }
  std::vector<fs::path> paths;
  if (fs::is_directory(status)) {
    try {
      for (const fs::directory_entry& entry :
           fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied)) {
        std::string entry_extension = entry.path().extension().string();
        std::transform(entry_extension.begin(), entry_extension.end(), entry_extension.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        std::error_code entry_error;
        if (entry_extension == extension && entry.is_regular_file(entry_error)) paths.push_back(entry.path());
      }
    } catch (const fs::filesystem_error& failure) {
      throw DataError(path.string(), 0, std::string("cannot list the directory: ") + failure.what());
    }
    if (paths.empty()) {
      throw DataError(path.string(), 0, "no *" + std::string(extension) + " file in the directory");
    }
    std::sort(paths.begin(), paths.end(),
              [](const fs::path& a, const fs::path& b) { return a.generic_string() < b.generic_string(); });
  } else {
    paths.push_back(path);
  }
  std::vector<InputFile> files;
  files.reserve(paths.size());
  for (fs::path& file_path : paths) {
    std::error_code size_error;
    const uintmax_t size = fs::file_size(file_path, size_error);
    InputFile file;
    file.name = file_path.string();
    file.path = std::move(file_path);
    file.size = size_error ? 0 : static_cast<int64_t>(size);
    files.push_back(std::move(file));
  }
  return files;
}

void check_limits(int64_t max_line_bytes, int64_t read_block_bytes) {
  if (max_line_bytes <= 0) {
    throw std::invalid_argument("DocumentSource: max_line_bytes must be > 0, got " +
                                std::to_string(max_line_bytes));
  }
  if (read_block_bytes <= 0) {
    throw std::invalid_argument("DocumentSource: read_block_bytes must be > 0, got " +
                                std::to_string(read_block_bytes));
  }
}

std::unique_ptr<DocumentSource::Reader> make_reader(SourceKind kind, std::vector<InputFile> files,
                                                    OnBadInput on_bad_input, int64_t max_line_bytes,
                                                    int64_t read_block_bytes) {
  switch (kind) {
    case SourceKind::text_folder:
      return std::make_unique<TextFolderReader>(std::move(files), on_bad_input, max_line_bytes,
                                                read_block_bytes);
    case SourceKind::pretrain_jsonl:
    case SourceKind::sft_jsonl:
      return std::make_unique<JsonlReader>(kind, std::move(files), on_bad_input, max_line_bytes,
                                           read_block_bytes);
  }
  throw std::invalid_argument("DocumentSource: unknown source kind");
}

}  // namespace

int64_t SourceReport::skipped() const {
  int64_t total = 0;
  for (const auto& [reason, count] : skipped_by_reason) total += count;
  return total;
}

DataError::DataError(std::string file, int64_t line, std::string reason)
    : std::runtime_error(describe_location(file, line, reason)),
      file_(std::move(file)),
      line_(line),
      reason_(std::move(reason)) {}

std::unique_ptr<DocumentSource> DocumentSource::open(SourceKind kind, const std::filesystem::path& path,
                                                     OnBadInput on_bad_input, int64_t max_line_bytes) {
  check_limits(max_line_bytes, kDefaultReadBlockBytes);
  std::vector<InputFile> files = list_input_files(path, kind == SourceKind::text_folder ? ".txt" : ".jsonl");
  return std::unique_ptr<DocumentSource>(new DocumentSource(
      make_reader(kind, std::move(files), on_bad_input, max_line_bytes, kDefaultReadBlockBytes)));
}

std::unique_ptr<DocumentSource> DocumentSource::from_memory(SourceKind kind, std::string bytes,
                                                            std::string name, OnBadInput on_bad_input,
                                                            int64_t max_line_bytes,
                                                            int64_t read_block_bytes) {
  check_limits(max_line_bytes, read_block_bytes);
  InputFile file;
  file.name = std::move(name);
  file.size = static_cast<int64_t>(bytes.size());
  file.memory = std::make_shared<const std::string>(std::move(bytes));
  std::vector<InputFile> files;
  files.push_back(std::move(file));
  return std::unique_ptr<DocumentSource>(new DocumentSource(
      make_reader(kind, std::move(files), on_bad_input, max_line_bytes, read_block_bytes)));
}

DocumentSource::DocumentSource(std::unique_ptr<Reader> reader) : reader_(std::move(reader)) {}
DocumentSource::~DocumentSource() = default;

bool DocumentSource::next(Document& document) {
  return reader_->next(document);
}
const SourceReport& DocumentSource::report() const {
  return reader_->report();
}
int64_t DocumentSource::bytes_read() const {
  return reader_->bytes_read();
}
int64_t DocumentSource::total_bytes() const {
  return reader_->total_bytes();
}

}  // namespace minimind
