// Atomic file replacement: the bytes go to a temporary file beside the target (<target>.tmp-<pid>-<n>), which
// is flushed to disk and renamed over the target, and the directory is synced. Readers see either the old
// file or the complete new one, never a partial write, even if the process dies midway.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <ostream>
#include <span>
#include <string>

namespace minimind {

// Throws std::system_error naming the path, the failed step and the system's reason (for a write: the bytes
// asked, the offset and the bytes written before the error, as a full disk stops a write midway); the
// temporary file is removed on any failure and the target is left as it was.
void write_file_atomically(const std::filesystem::path& path, std::span<const char> bytes);

// Streams the contents through `write`. If `write` throws, its exception propagates unchanged after the
// temporary file is removed; the target is untouched. A failed write to the file is reported as above once
// `write` returns (the stream stops writing at the first failure).
void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& write);

// The temporary file behind an atomic write, for writers that need its descriptor (a header filled in last
// with pwrite, say): created exclusively beside the target, removed by the destructor unless commit() has
// renamed it over the target. Errors are std::system_error, "<error_prefix>: <path>: <step>: <reason>".
class AtomicFile {
 public:
  AtomicFile(std::filesystem::path target, std::string error_prefix);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }  // the temporary file
  const std::filesystem::path& target() const { return target_; }
  bool renamed() const { return renamed_; }

  // Appends all of `bytes` at the descriptor's position.
  void write(const void* bytes, std::size_t size);
  // Bytes appended through write() so far.
  std::size_t bytes_written() const { return bytes_written_; }
  // fsync, close, rename over the target, then fsync the directory so that the rename itself is durable.
  void commit();

  [[noreturn]] void fail(const std::filesystem::path& path, const std::string& step, int error) const;

 private:
  std::filesystem::path target_;
  std::string error_prefix_;
  std::filesystem::path path_;
  int fd_ = -1;
  bool renamed_ = false;
  std::size_t bytes_written_ = 0;
};

// Writes all `size` bytes to `fd`, retrying short writes and interrupted calls; returns 0 or the errno. If
// `written` is given, it receives the bytes written before the error (all of them on success).
int write_fully(int fd, const void* bytes, std::size_t size, std::size_t* written = nullptr);

}  // namespace minimind
