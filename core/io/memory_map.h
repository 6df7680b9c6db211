// A read-only memory map of a whole file, owned: the mapping lives exactly as long as the MemoryMap (moves
// keep the same addresses, so views into it survive a move). Large files are paged in on demand.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>

namespace minimind {

class MemoryMap {
 public:
  // How the mapping will be read; passed to the kernel (madvise) to tune read-ahead.
  enum class Access { normal, sequential, random };

  // Maps the file read-only; throws std::system_error naming the path and the failed step. An empty file
  // gives an empty map (no mapping is made).
  static MemoryMap open(const std::filesystem::path& path, Access access = Access::normal);

  MemoryMap() = default;
  ~MemoryMap();
  MemoryMap(MemoryMap&& other) noexcept;
  MemoryMap& operator=(MemoryMap&& other) noexcept;
  MemoryMap(const MemoryMap&) = delete;
  MemoryMap& operator=(const MemoryMap&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const std::byte> bytes() const { return {data_, size_}; }

  // Changes the read-ahead hint for the whole mapping (for example sequential while verifying a checksum,
  // random while sampling). A hint: failures are ignored.
  void advise(Access access) const;

 private:
  void release() noexcept;

  std::filesystem::path path_;
  std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace minimind
