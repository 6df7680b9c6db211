// A small tmpfs mounted for one test, to fill a disk for real (ENOSPC from the kernel, partial writes at the
// page boundary). Mounting needs root or CAP_SYS_ADMIN: a test checks mounted() and skips with error().
#pragma once

#include <sys/mount.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>

namespace minimind {

class TmpfsMount {
 public:
  // A tmpfs of `bytes` (rounded up to pages) on `path`, created if missing; unmounted by the destructor.
  TmpfsMount(const std::filesystem::path& path, uint64_t bytes) : path_(path) {
    std::filesystem::create_directories(path);
    const std::string options = "size=" + std::to_string(bytes);
    if (::mount("tmpfs", path.c_str(), "tmpfs", 0, options.c_str()) == 0)
      mounted_ = true;
    else
      error_ = std::strerror(errno);
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }  // why mounting failed

 private:
  std::filesystem::path path_;
  bool mounted_ = false;
  std::string error_;
};

}  // namespace minimind
