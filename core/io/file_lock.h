// An exclusive flock(2) on a lock file, held for as long as the object lives. The kernel drops the lock when
// its holder dies, however it dies, so a lock that can be taken has no live holder: unlike a PID written in a
// file name, which a later process (a restarted container starts again at 1) may carry too.
#pragma once

#include <filesystem>
#include <optional>

namespace minimind {

class FileLock {
 public:
  // Waits until no other holder remains; creates the file if needed. Throws std::system_error naming the
  // path and the failed step.
  static FileLock acquire(const std::filesystem::path& path);
  // Takes the lock if no live process holds it, or returns none at once.
  static std::optional<FileLock> try_acquire(const std::filesystem::path& path);

  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  // Removes the lock file, then releases the lock: the file exists only while someone holds it (or after its
  // holder died, until the next taker removes it).
  ~FileLock();

  const std::filesystem::path& path() const { return path_; }

 private:
  FileLock(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
  static std::optional<FileLock> lock(const std::filesystem::path& path, bool wait);
  void release() noexcept;

  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace minimind
