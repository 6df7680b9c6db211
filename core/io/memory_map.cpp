// Memory maps through POSIX open/fstat/mmap; the file descriptor is closed right after mapping (the mapping
// keeps the file alive).
#include "io/memory_map.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

namespace minimind {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& step, int error) {
  throw std::system_error(error, std::generic_category(), "memory map: " + path.string() + ": " + step);
}

int advice_for(MemoryMap::Access access) {
  switch (access) {
    case MemoryMap::Access::sequential:
      return MADV_SEQUENTIAL;
    case MemoryMap::Access::random:
      return MADV_RANDOM;
    case MemoryMap::Access::normal:
      break;
  }
  return MADV_NORMAL;
}

// Closes the descriptor on every path out of open().
struct FileDescriptor {
  int fd = -1;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

MemoryMap MemoryMap::open(const std::filesystem::path& path, Access access) {
  FileDescriptor file;
  do {
    file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (file.fd < 0 && errno == EINTR);
  if (file.fd < 0) fail(path, "open", errno);

  struct stat status {};
  if (::fstat(file.fd, &status) != 0) fail(path, "fstat", errno);
  if (!S_ISREG(status.st_mode)) fail(path, "not a regular file", EINVAL);

  MemoryMap map;
  map.path_ = path;
  map.size_ = static_cast<size_t>(status.st_size);
  if (map.size_ == 0) return map;  // mmap refuses a zero length; an empty view says the same

  void* address = ::mmap(nullptr, map.size_, PROT_READ, MAP_PRIVATE, file.fd, 0);
  if (address == MAP_FAILED) fail(path, "mmap of " + std::to_string(map.size_) + " bytes", errno);
  map.data_ = static_cast<std::byte*>(address);
  map.advise(access);
  return map;
}

MemoryMap::~MemoryMap() {
  release();
}

MemoryMap::MemoryMap(MemoryMap&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MemoryMap& MemoryMap::operator=(MemoryMap&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void MemoryMap::advise(Access access) const {
  if (data_ != nullptr) ::madvise(data_, size_, advice_for(access));
}

void MemoryMap::release() noexcept {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace minimind
