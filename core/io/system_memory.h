// How much memory this process can still take before the kernel refuses or the OOM killer steps in: the
// kernel's MemAvailable, bounded by the room left under every memory cgroup limit that applies to the process
// (its own cgroup and each ancestor, cgroup v2 or v1). Read from /proc and /sys; nothing is cached.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace minimind {

// One memory cgroup level with a limit.
struct CgroupMemoryLimit {
  std::filesystem::path directory;  // e.g. /sys/fs/cgroup/user.slice
  int64_t limit_bytes = 0;          // memory.max (v2) or memory.limit_in_bytes (v1)
  int64_t usage_bytes = 0;          // memory.current (v2) or memory.usage_in_bytes (v1)
  // Inactive page cache counted in the usage (memory.stat inactive_file, v1 total_inactive_file). The kernel
  // drops it before it kills, as MemAvailable also counts it as available.
  int64_t reclaimable_bytes = 0;
  int64_t room_bytes() const;  // limit - (usage - reclaimable), at least 0
};

struct SystemMemory {
  int64_t mem_available_bytes = 0;          // /proc/meminfo MemAvailable
  std::optional<CgroupMemoryLimit> cgroup;  // the level with the least room; none when no level is limited
  // The smaller of MemAvailable and the cgroup's room.
  int64_t available_bytes() const;
  // Where the figure comes from, for messages: "MemAvailable" or "the cgroup limit of DIR: 4.0 GiB, 3.1 GiB
  // in use, 0.2 GiB of it reclaimable cache".
  std::string describe() const;
};

// Reads `root`/proc/meminfo, `root`/proc/self/cgroup and `root`/proc/self/mountinfo, and the cgroup files
// under the mount points found there (also under `root`; tests pass a directory laid out like a machine).
// Throws std::runtime_error naming the file and the reason when /proc/meminfo cannot be read or has no
// MemAvailable line; cgroup files that are missing or unreadable are skipped (no limit known there).
SystemMemory read_system_memory(const std::filesystem::path& root = "/");

}  // namespace minimind
