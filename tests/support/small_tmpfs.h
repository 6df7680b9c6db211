// A tmpfs of a few MiB mounted on a fresh directory for one test: a real file system that fills up, for
// disk-full tests. Mounting needs CAP_SYS_ADMIN (root here and on CI); without it the test skips and says
// why.
#pragma once

#include <sys/mount.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>

namespace minimind {

class SmallTmpfs {
 public:
  SmallTmpfs(std::filesystem::path directory, uint64_t bytes) : directory_(std::move(directory)) {
    std::filesystem::create_directories(directory_);
    const std::string options = "size=" + std::to_string(bytes);
    if (::mount("tmpfs", directory_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) == 0)
      mounted_ = true;
    else
      failure_ = std::string("mount -t tmpfs -o ") + options + " on " + directory_.string() +
                 " is not permitted here: " + std::strerror(errno);
  }
  ~SmallTmpfs() {
    if (mounted_) ::umount2(directory_.c_str(), MNT_DETACH);  // lazily, even if a file is still open
  }
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& failure() const { return failure_; }  // why it is not mounted
  const std::filesystem::path& path() const { return directory_; }

 private:
  std::filesystem::path directory_;
  bool mounted_ = false;
  std::string failure_;
};

}  // namespace minimind
