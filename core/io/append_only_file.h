// A log file that only grows by whole records (JSONL lines, CSV rows, TFRecords): each record goes out in one
// write() on an O_APPEND descriptor, and a failed or short write (disk full, file-size limit, I/O error) is
// cut back with ftruncate, so the file never ends in half a record, even while the disk is full.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace minimind {

class AppendOnlyFile {
 public:
  // Opens `path` for appending, creating it. Errors are std::system_error,
  // "<error_prefix>: <path>: <step>: <reason>".
  AppendOnlyFile(std::filesystem::path path, std::string error_prefix);
  ~AppendOnlyFile();
  AppendOnlyFile(const AppendOnlyFile&) = delete;
  AppendOnlyFile& operator=(const AppendOnlyFile&) = delete;

  // Appends all of `record` or nothing. On failure the file is cut back to its size before the call and the
  // std::system_error names the path, the bytes asked and written, and the system's reason (and the cut, if
  // that failed too). Later calls try again: the record that failed is not kept.
  void append(std::string_view record);

  uint64_t size() const { return size_; }  // the bytes of whole records in the file
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::string error_prefix_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Cuts a text file whose last line lacks its '\n' (a crash or a full disk mid-write) back to the end of its
// last complete line. Returns the bytes removed (0 when the file ends with '\n', is empty or does not exist).
// Errors are std::system_error, "<error_prefix>: <path>: <step>: <reason>".
uint64_t drop_partial_last_line(const std::filesystem::path& path, const std::string& error_prefix);

}  // namespace minimind
