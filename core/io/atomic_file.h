// Atomic file replacement: the bytes go to a temporary file beside the target (<target>.tmp-<pid>-<n>), which
// is flushed to disk and renamed over the target, and the directory is synced. Readers see either the old
// file or the complete new one, never a partial write, even if the process dies midway.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <span>

namespace minimind {

// Throws std::runtime_error naming the path, the failed step and the system's reason; the temporary file is
// removed on any failure and the target is left as it was.
void write_file_atomically(const std::filesystem::path& path, std::span<const char> bytes);

// Streams the contents through `write`. If `write` throws, its exception propagates unchanged after the
// temporary file is removed; the target is untouched.
void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& write);

}  // namespace minimind
