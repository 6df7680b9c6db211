// FileLock: open (creating), flock, then check that the name still leads to the locked file. A holder removes
// the file before releasing it, so a taker that waited may hold the lock of a file no longer in the
// directory; it then starts again on the new one. Two processes therefore never both believe they hold one
// name's lock.
#include "io/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

namespace minimind {

namespace {

[[noreturn]] void lock_failure(const std::filesystem::path& path, const std::string& step, int error) {
  throw std::system_error(error, std::generic_category(), "file lock: " + path.string() + ": " + step);
}

// Whether `path` still names the file open as `fd` (and not a newer one, or none).
bool still_named(const std::filesystem::path& path, int fd) {
  struct stat opened {
  }, named{};
  if (::fstat(fd, &opened) != 0) lock_failure(path, "fstat", errno);
  if (::stat(path.c_str(), &named) != 0) {
    if (errno == ENOENT) return false;
    lock_failure(path, "stat", errno);
  }
  return opened.st_dev == named.st_dev && opened.st_ino == named.st_ino;
}

}  // namespace

std::optional<FileLock> FileLock::lock(const std::filesystem::path& path, bool wait) {
  for (;;) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) lock_failure(path, "opening the lock file", errno);
    int result = 0;
    do {
      result = ::flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB);
    } while (result != 0 && errno == EINTR);
    if (result != 0) {
      const int error = errno;
      ::close(fd);
      if (error == EWOULDBLOCK && !wait) return std::nullopt;
      lock_failure(path, "flock", error);
    }
    bool named = false;
    try {
      named = still_named(path, fd);
    } catch (...) {
      ::close(fd);
      throw;
    }
    if (named) return FileLock(path, fd);
    ::close(fd);  // the holder before us removed this file: lock the one the name leads to now
  }
}

FileLock FileLock::acquire(const std::filesystem::path& path) {
  return *lock(path, true);
}

std::optional<FileLock> FileLock::try_acquire(const std::filesystem::path& path) {
  return lock(path, false);
}

FileLock::FileLock(FileLock&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

FileLock::~FileLock() {
  release();
}

void FileLock::release() noexcept {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // best effort: a file left behind is only taken and removed by the next taker
  ::close(fd_);
  fd_ = -1;
}

}  // namespace minimind
