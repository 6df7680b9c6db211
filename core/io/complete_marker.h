// The COMPLETE marker of a checkpoint directory: written last, it lists each file with its size and CRC-32C,
// so its presence says the write finished and its checksums reveal any damage since. Checkpoints (train/) and
// every model load (model/) check it, so it lives here, below both.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace minimind {

// A checkpoint that is missing, incomplete, truncated, corrupt or of an unknown format. The message names
// the checkpoint directory and the offending file.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr int kCheckpointFormatVersion = 1;
inline constexpr const char* kCompleteMarkerName = "COMPLETE";

struct FileDigest {
  uint64_t bytes = 0;
  uint32_t crc32c = 0;
};

// Streams the file through CRC-32C. Throws CheckpointError naming the file if it cannot be read.
FileDigest digest_file(const std::filesystem::path& path);

// Writes directory/COMPLETE atomically, listing `files` (names inside `directory`) with their size and
// CRC-32C as read back from the disk now, so a file damaged in writing cannot be certified.
void write_complete_marker(const std::filesystem::path& directory, const std::vector<std::string>& files,
                           int64_t step);

bool has_complete_marker(const std::filesystem::path& directory);

// Checks that the marker is well formed, lists every one of `files` and that each has the recorded size and
// CRC-32C. Files the marker lists besides these are not read: a caller checks what it is about to use.
// Throws CheckpointError naming the file that is missing, truncated or corrupt, or saying that the marker is
// absent (an incomplete write).
void verify_complete_marker(const std::filesystem::path& directory, const std::vector<std::string>& files);

}  // namespace minimind
