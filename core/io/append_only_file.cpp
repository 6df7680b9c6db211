// AppendOnlyFile (see append_only_file.h), through POSIX calls so that every failure carries its errno.
#include "io/append_only_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

namespace minimind {
namespace {

[[noreturn]] void fail(const std::string& prefix, const std::filesystem::path& path, const std::string& step,
                       int error) {
  throw std::system_error(error, std::generic_category(), prefix + ": " + path.string() + ": " + step);
}

// A descriptor closed when it goes out of scope.
struct Descriptor {
  int fd;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

AppendOnlyFile::AppendOnlyFile(std::filesystem::path path, std::string error_prefix)
    : path_(std::move(path)), error_prefix_(std::move(error_prefix)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
  if (fd_ < 0) fail(error_prefix_, path_, "opening for appending", errno);
  struct stat status {};
  if (::fstat(fd_, &status) != 0) {
    const int error = errno;
    ::close(fd_);
    fail(error_prefix_, path_, "fstat", error);
  }
  size_ = S_ISREG(status.st_mode) ? static_cast<uint64_t>(status.st_size) : 0;
}

AppendOnlyFile::~AppendOnlyFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendOnlyFile::append(std::string_view record) {
  size_t written = 0;
  int error = 0;
  while (written < record.size()) {
    // One call for the whole record in the normal case; the loop only continues a short write, which is
    // either completed or followed by the error that explains it (ENOSPC, EFBIG, EIO).
    const ssize_t n = ::write(fd_, record.data() + written, record.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno;
      break;
    }
    written += static_cast<size_t>(n);
  }
  if (error == 0) {
    size_ += record.size();
    return;
  }
  std::string step =
      "appending " + std::to_string(record.size()) + " bytes (" + std::to_string(written) + " written";
  if (written > 0) {
    if (::ftruncate(fd_, static_cast<off_t>(size_)) == 0)
      step += ", cut back to the last whole record at byte " + std::to_string(size_);
    else
      step += "; cutting back to byte " + std::to_string(size_) + " failed too: " + std::strerror(errno);
  }
  fail(error_prefix_, path_, step + ")", error);
}

uint64_t drop_partial_last_line(const std::filesystem::path& path, const std::string& error_prefix) {
  const Descriptor file{::open(path.c_str(), O_RDWR | O_CLOEXEC)};
  if (file.fd < 0) {
    if (errno == ENOENT) return 0;
    fail(error_prefix, path, "opening to repair its last line", errno);
  }
  struct stat status {};
  if (::fstat(file.fd, &status) != 0) fail(error_prefix, path, "fstat", errno);
  if (!S_ISREG(status.st_mode)) return 0;
  const off_t size = status.st_size;
  // Back from the end, a block at a time, to the last '\n'.
  std::vector<char> block(64 * 1024);
  off_t end = size;
  while (end > 0) {
    const off_t begin = end > static_cast<off_t>(block.size()) ? end - static_cast<off_t>(block.size()) : 0;
    const size_t count = static_cast<size_t>(end - begin);
    const ssize_t n = ::pread(file.fd, block.data(), count, begin);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(error_prefix, path, "reading its last line", errno);
    }
    if (static_cast<size_t>(n) != count) fail(error_prefix, path, "reading its last line (short read)", EIO);
    for (size_t i = count; i > 0; --i) {
      if (block[i - 1] != '\n') continue;
      const off_t keep = begin + static_cast<off_t>(i);
      if (keep == size) return 0;
      if (::ftruncate(file.fd, keep) != 0)
        fail(error_prefix, path, "cutting its partial last line at byte " + std::to_string(keep), errno);
      return static_cast<uint64_t>(size - keep);
    }
    end = begin;
  }
  if (size > 0 && ::ftruncate(file.fd, 0) != 0)
    fail(error_prefix, path, "cutting its only, partial line", errno);
  return static_cast<uint64_t>(size);
}

}  // namespace minimind
