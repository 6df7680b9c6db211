// /proc/meminfo, /proc/self/cgroup, /proc/self/mountinfo and the memory cgroup files, parsed leniently: a
// cgroup file that is absent or unreadable means no limit is known at that level, never an error, so a
// machine without cgroups (or with an unusual layout) falls back to MemAvailable alone.
#include "io/system_memory.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "text/byte_size.h"

namespace minimind {

namespace {

namespace fs = std::filesystem;

// Limits at or above this mean "none": cgroup v1 reports an unlimited group as 2^63 rounded down to a page.
constexpr int64_t kUnlimited = int64_t{1} << 62;

std::optional<std::string> read_text(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<int64_t> parse_integer(const std::string& text) {
  try {
    size_t used = 0;
    const long long value = std::stoll(text, &used);
    while (used < text.size() && std::isspace(static_cast<unsigned char>(text[used]))) ++used;
    if (used != text.size() || value < 0) return std::nullopt;
    return static_cast<int64_t>(value);
  } catch (const std::exception&) {
    return std::nullopt;  // out of range or not a number
  }
}

std::optional<int64_t> read_integer(const fs::path& path) {
  const std::optional<std::string> text = read_text(path);
  return text ? parse_integer(*text) : std::nullopt;
}

// The value of `key` in a "key value" file (memory.stat), 0 when absent.
int64_t stat_value(const fs::path& path, const std::string& key) {
  std::ifstream in(path);
  std::string name;
  int64_t value = 0;
  while (in >> name >> value)
    if (name == key) return value;
  return 0;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  return parts;
}

// mountinfo writes a space in a path as \040 (and a tab, newline and backslash likewise, in octal).
std::string unescape_mount_path(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size() &&
        std::all_of(text.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                    text.begin() + static_cast<std::ptrdiff_t>(i) + 4,
                    [](char c) { return c >= '0' && c <= '7'; })) {
      out += static_cast<char>((text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 + (text[i + 3] - '0'));
      i += 3;
    } else {
      out += text[i];
    }
  }
  return out;
}

struct CgroupMount {
  std::string root;         // the hierarchy's path mounted there ("/" unless a container mounts a subtree)
  std::string mount_point;  // absolute, on the machine
};

// The cgroup2 mount (`version` 2) or the cgroup v1 mount carrying the memory controller (`version` 1).
std::optional<CgroupMount> find_mount(const std::string& mountinfo, int version) {
  std::istringstream lines(mountinfo);
  std::string line;
  while (std::getline(lines, line)) {
    // "36 35 98:0 ROOT MOUNT_POINT options [optional fields] - FSTYPE SOURCE SUPER_OPTIONS"
    const std::vector<std::string> fields = split(line, ' ');
    const auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 5 || dash == fields.end() || fields.end() - dash < 4) continue;
    const std::string& type = *(dash + 1);
    const std::vector<std::string> super_options = split(*(dash + 3), ',');
    const bool memory_v1 = type == "cgroup" && std::find(super_options.begin(), super_options.end(),
                                                         "memory") != super_options.end();
    if ((version == 2 && type == "cgroup2") || (version == 1 && memory_v1))
      return CgroupMount{unescape_mount_path(fields[3]), unescape_mount_path(fields[4])};
  }
  return std::nullopt;
}

// The process's path in the hierarchy: "0::/path" (v2), "N:...memory...:/path" (v1).
std::optional<std::string> cgroup_path(const std::string& self_cgroup, int version) {
  std::istringstream lines(self_cgroup);
  std::string line;
  while (std::getline(lines, line)) {
    const size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string id = line.substr(0, first), controllers = line.substr(first + 1, second - first - 1);
    const std::vector<std::string> names = split(controllers, ',');
    const bool matches = version == 2 ? id == "0" && controllers.empty()
                                      : std::find(names.begin(), names.end(), "memory") != names.end();
    if (matches) return line.substr(second + 1);
  }
  return std::nullopt;
}

// The level of `directory` with a limit, if it has one.
std::optional<CgroupMemoryLimit> read_level(const fs::path& directory, const fs::path& shown, int version) {
  const char* limit_file = version == 2 ? "memory.max" : "memory.limit_in_bytes";
  const char* usage_file = version == 2 ? "memory.current" : "memory.usage_in_bytes";
  const char* inactive_key = version == 2 ? "inactive_file" : "total_inactive_file";
  const std::optional<int64_t> limit = read_integer(directory / limit_file);  // "max" reads as none
  const std::optional<int64_t> usage = read_integer(directory / usage_file);
  if (!limit || !usage || *limit >= kUnlimited) return std::nullopt;
  return CgroupMemoryLimit{shown, *limit, *usage, stat_value(directory / "memory.stat", inactive_key)};
}

// The tightest limited level from the process's cgroup up to the hierarchy's root.
std::optional<CgroupMemoryLimit> tightest_limit(const fs::path& root, const std::string& mountinfo,
                                                const std::string& self_cgroup, int version) {
  const std::optional<CgroupMount> mount = find_mount(mountinfo, version);
  const std::optional<std::string> path = cgroup_path(self_cgroup, version);
  if (!mount || !path) return std::nullopt;
  // A container may mount only its own subtree: strip the mounted root from the process's path.
  std::string relative = *path;
  if (mount->root != "/" && relative.starts_with(mount->root)) relative.erase(0, mount->root.size());
  const fs::path mount_point = fs::path(mount->mount_point).lexically_normal();
  const fs::path below = fs::path(relative).relative_path();
  fs::path shown = below.empty() ? mount_point : (mount_point / below).lexically_normal();
  if (!fs::is_directory(root / shown.relative_path())) shown = mount_point;  // a path from another namespace
  std::optional<CgroupMemoryLimit> tightest;
  for (fs::path level = shown;; level = level.parent_path()) {
    if (const auto limit = read_level(root / level.relative_path(), level, version))
      if (!tightest || limit->room_bytes() < tightest->room_bytes()) tightest = limit;
    if (level == mount_point || level == level.parent_path() ||
        level.native().size() <= mount_point.native().size())
      break;
  }
  return tightest;
}

}  // namespace

int64_t CgroupMemoryLimit::room_bytes() const {
  const int64_t in_use = std::max<int64_t>(0, usage_bytes - reclaimable_bytes);
  return std::max<int64_t>(0, limit_bytes - in_use);
}

int64_t SystemMemory::available_bytes() const {
  return cgroup ? std::min(mem_available_bytes, cgroup->room_bytes()) : mem_available_bytes;
}

std::string SystemMemory::describe() const {
  if (!cgroup || cgroup->room_bytes() >= mem_available_bytes) return "MemAvailable";
  std::string text = "the memory limit of cgroup " + cgroup->directory.string() + ": " +
                     format_bytes(cgroup->limit_bytes) + ", " + format_bytes(cgroup->usage_bytes) + " in use";
  if (cgroup->reclaimable_bytes > 0)
    text += " of which " + format_bytes(cgroup->reclaimable_bytes) + " is reclaimable cache";
  return text;
}

SystemMemory read_system_memory(const fs::path& root) {
  const fs::path meminfo = root / "proc/meminfo";
  std::ifstream in(meminfo);
  if (!in) throw std::runtime_error(meminfo.string() + ": cannot read it: " + std::strerror(errno));
  SystemMemory memory;
  bool found = false;
  std::string key, unit;
  int64_t value = 0;
  while (in >> key >> value) {
    std::getline(in, unit);  // " kB"
    if (key == "MemAvailable:") {
      memory.mem_available_bytes = value * 1024;
      found = true;
      break;
    }
  }
  if (!found) throw std::runtime_error(meminfo.string() + ": no MemAvailable line (a kernel before 3.14?)");

  const std::string mountinfo = read_text(root / "proc/self/mountinfo").value_or("");
  const std::string self_cgroup = read_text(root / "proc/self/cgroup").value_or("");
  for (const int version : {2, 1})
    if (const auto limit = tightest_limit(root, mountinfo, self_cgroup, version))
      if (!memory.cgroup || limit->room_bytes() < memory.cgroup->room_bytes()) memory.cgroup = limit;
  return memory;
}

}  // namespace minimind
