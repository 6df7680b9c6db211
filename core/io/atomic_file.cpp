// Atomic file writes through POSIX calls, so that every step (open, write, fsync, rename, directory fsync)
// can be checked and reported with its errno.
#include "io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <system_error>
#include <vector>

namespace minimind {

AtomicFile::AtomicFile(std::filesystem::path target, std::string error_prefix)
    : target_(std::move(target)), error_prefix_(std::move(error_prefix)) {
  // O_EXCL with an increasing counter finds a free name even when another thread of this process, or a stale
  // file left by a crashed process with the same pid, holds an earlier one.
  constexpr int kMaxAttempts = 10000;
  const std::string prefix = target_.string() + ".tmp-" + std::to_string(::getpid()) + "-";
  for (int counter = 0; counter < kMaxAttempts; ++counter) {
    path_ = prefix + std::to_string(counter);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0) return;
    if (errno != EEXIST && errno != EINTR) fail(path_, "creating the temporary file", errno);
  }
  fail(path_, "creating the temporary file", EEXIST);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!renamed_) ::unlink(path_.c_str());
}

void AtomicFile::fail(const std::filesystem::path& path, const std::string& step, int error) const {
  throw std::system_error(error, std::generic_category(), error_prefix_ + ": " + path.string() + ": " + step);
}

void AtomicFile::write(const void* bytes, std::size_t size) {
  std::size_t written = 0;
  const int error = write_fully(fd_, bytes, size, &written);
  const std::size_t offset = bytes_written_;
  bytes_written_ += written;
  if (error != 0)
    fail(path_,
         "write of " + std::to_string(size) + " bytes at offset " + std::to_string(offset) +
             " stopped after " + std::to_string(written) + " bytes",
         error);
}

void AtomicFile::commit() {
  // A full disk may show only here, on file systems that allocate late (ENOSPC or EDQUOT from fsync or
  // close).
  const std::string size = " (" + std::to_string(bytes_written_) + " bytes written)";
  if (::fsync(fd_) != 0) fail(path_, "fsync" + size, errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail(path_, "close" + size, errno);
  if (::rename(path_.c_str(), target_.c_str()) != 0) fail(target_, "rename from " + path_.string(), errno);
  renamed_ = true;
  std::filesystem::path directory = target_.parent_path();
  if (directory.empty()) directory = ".";
  const int directory_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory_fd < 0) fail(directory, "opening the directory to sync it", errno);
  const int result = ::fsync(directory_fd);
  const int error = errno;
  ::close(directory_fd);
  // Some file systems cannot sync a directory and say so with EINVAL; the rename is done either way.
  if (result != 0 && error != EINVAL) fail(directory, "fsync of the directory", error);
}

int write_fully(int fd, const void* bytes, std::size_t size, std::size_t* written) {
  const char* data = static_cast<const char*>(bytes);
  std::size_t done = 0;
  int error = 0;
  while (done < size) {
    const ssize_t count = ::write(fd, data + done, size - done);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) {
      // write() returns 0 for a non-empty request only where no progress is possible; retrying would spin.
      error = count < 0 ? errno : EIO;
      break;
    }
    done += static_cast<size_t>(count);
  }
  if (written) *written = done;
  return error;
}

namespace {

constexpr const char* kWriterName = "write_file_atomically";

// An output buffer over an AtomicFile that keeps the first write failure (a stream swallows exceptions from
// its buffer) and stops writing after it.
class FileDescriptorBuffer : public std::streambuf {
 public:
  explicit FileDescriptorBuffer(AtomicFile& file) : file_(file), buffer_(kBufferBytes) {
    setp(buffer_.data(), buffer_.data() + buffer_.size());
  }
  // Throws the first failure, if any, as AtomicFile::write reported it.
  void rethrow_failure() const {
    if (failure_) std::rethrow_exception(failure_);
  }

 protected:
  int_type overflow(int_type ch) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  std::streamsize xsputn(const char* data, std::streamsize count) override {
    // Large blocks (tensor data) bypass the buffer instead of being copied through it.
    if (count >= static_cast<std::streamsize>(buffer_.size())) {
      if (!drain() || !write_out(data, static_cast<size_t>(count))) return 0;
      return count;
    }
    return std::streambuf::xsputn(data, count);
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  static constexpr size_t kBufferBytes = size_t{1} << 20;

  bool drain() {
    if (!write_out(pbase(), static_cast<size_t>(pptr() - pbase()))) return false;
    setp(buffer_.data(), buffer_.data() + buffer_.size());
    return true;
  }

  bool write_out(const char* data, size_t size) {
    if (failure_) return false;
    try {
      file_.write(data, size);
      return true;
    } catch (const std::system_error&) {
      failure_ = std::current_exception();
      return false;
    }
  }

  AtomicFile& file_;
  std::vector<char> buffer_;
  std::exception_ptr failure_;
};

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::span<const char> bytes) {
  AtomicFile temporary(path, kWriterName);
  temporary.write(bytes.data(), bytes.size());
  temporary.commit();
}

void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& write) {
  AtomicFile temporary(path, kWriterName);
  {
    FileDescriptorBuffer buffer(temporary);
    std::ostream stream(&buffer);
    write(stream);
    stream.flush();
    buffer.rethrow_failure();
    if (!stream)
      throw std::runtime_error(std::string(kWriterName) + ": " + temporary.path().string() +
                               ": the writer left the stream in a failed state");
  }
  temporary.commit();
}

}  // namespace minimind
