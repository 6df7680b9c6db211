// read_system_memory on directories laid out like machines (cgroup v2 with a limit on an ancestor, cgroup v1
// as this build machine has it, a container that mounts only its own subtree, no limit at all), the figures
// worked out by hand; and on the real machine, where the answer must be positive and at most MemAvailable.
#include "io/system_memory.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/scratch_directory.h"

namespace minimind {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kMiB = int64_t{1} << 20;

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

class SystemMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // MemAvailable 8 GiB.
    write(root_ / "proc/meminfo",
          "MemTotal:       16777216 kB\nMemFree:         1000000 kB\n"
          "MemAvailable:    8388608 kB\nBuffers:           1000 kB\n");
  }
  ScratchDirectory scratch_;
  const fs::path root_ = scratch_.path();
};

TEST_F(SystemMemoryTest, MemAvailableAloneWithoutACgroupLimit) {
  const SystemMemory memory = read_system_memory(root_);
  EXPECT_EQ(memory.mem_available_bytes, 8192 * kMiB);
  EXPECT_FALSE(memory.cgroup.has_value());
  EXPECT_EQ(memory.available_bytes(), 8192 * kMiB);
  EXPECT_EQ(memory.describe(), "MemAvailable");
}

TEST_F(SystemMemoryTest, CgroupV2LimitOnAnAncestorBoundsIt) {
  write(root_ / "proc/self/cgroup", "0::/user.slice/session-1.scope\n");
  write(root_ / "proc/self/mountinfo",
        "25 30 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
        "rw,nsdelegate\n");
  const fs::path slice = root_ / "sys/fs/cgroup/user.slice";
  // The scope itself is unlimited; its parent allows 3 GiB, 2 GiB in use of which 512 MiB is inactive cache.
  write(slice / "session-1.scope/memory.max", "max\n");
  write(slice / "session-1.scope/memory.current", "104857600\n");
  write(slice / "memory.max", std::to_string(3072 * kMiB) + "\n");
  write(slice / "memory.current", std::to_string(2048 * kMiB) + "\n");
  write(slice / "memory.stat",
        "anon 1000\nfile 900\ninactive_file " + std::to_string(512 * kMiB) + "\nactive_file 4\n");
  const SystemMemory memory = read_system_memory(root_);
  ASSERT_TRUE(memory.cgroup.has_value());
  EXPECT_EQ(memory.cgroup->directory, "/sys/fs/cgroup/user.slice");
  EXPECT_EQ(memory.cgroup->room_bytes(), (3072 - 2048 + 512) * kMiB);
  EXPECT_EQ(memory.available_bytes(), 1536 * kMiB) << "the cgroup's room is below MemAvailable";
  EXPECT_EQ(
      memory.describe(),
      "the memory limit of cgroup /sys/fs/cgroup/user.slice: 3.0 GiB, 2.0 GiB in use of which 512.0 MiB is "
      "reclaimable cache");
}

TEST_F(SystemMemoryTest, CgroupV1LimitAsThisMachineMountsIt) {
  // The layout of the machine these tests were written on: v1 controllers under /sys/fs/cgroup/<name>, an
  // unlimited v2 hierarchy beside them.
  write(root_ / "proc/self/cgroup", "9:name=systemd:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n");
  write(root_ / "proc/self/mountinfo",
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "35 31 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "41 31 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
  const fs::path group = root_ / "sys/fs/cgroup/memory/process_api/abc";
  write(group / "memory.limit_in_bytes", std::to_string(1024 * kMiB) + "\n");
  write(group / "memory.usage_in_bytes", std::to_string(900 * kMiB) + "\n");
  write(group / "memory.stat",
        "cache 100\ninactive_file 7\ntotal_inactive_file " + std::to_string(100 * kMiB) + "\n");
  write(root_ / "sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");  // unlimited
  write(root_ / "sys/fs/cgroup/memory/memory.usage_in_bytes", "5\n");
  const SystemMemory memory = read_system_memory(root_);
  ASSERT_TRUE(memory.cgroup.has_value());
  EXPECT_EQ(memory.cgroup->directory, "/sys/fs/cgroup/memory/process_api/abc");
  EXPECT_EQ(memory.available_bytes(), (1024 - 900 + 100) * kMiB);
}

TEST_F(SystemMemoryTest, AContainerThatMountsOnlyItsOwnSubtree) {
  // The hierarchy's /docker/xyz mounted at /sys/fs/cgroup: the process's path is relative to that root.
  write(root_ / "proc/self/cgroup", "0::/docker/xyz\n");
  write(root_ / "proc/self/mountinfo",
        "40 39 0:30 /docker/xyz /sys/fs/cgroup ro,nosuid - cgroup2 cgroup rw\n");
  write(root_ / "sys/fs/cgroup/memory.max", std::to_string(512 * kMiB));
  write(root_ / "sys/fs/cgroup/memory.current", std::to_string(100 * kMiB));
  const SystemMemory memory = read_system_memory(root_);
  ASSERT_TRUE(memory.cgroup.has_value());
  EXPECT_EQ(memory.cgroup->directory, "/sys/fs/cgroup");
  EXPECT_EQ(memory.available_bytes(), 412 * kMiB);
}

TEST_F(SystemMemoryTest, ALimitAboveMemAvailableLeavesMemAvailable) {
  write(root_ / "proc/self/cgroup", "0::/\n");
  write(root_ / "proc/self/mountinfo", "25 30 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  write(root_ / "sys/fs/cgroup/memory.max", std::to_string(64 * 1024 * kMiB));
  write(root_ / "sys/fs/cgroup/memory.current", std::to_string(kMiB));
  const SystemMemory memory = read_system_memory(root_);
  EXPECT_EQ(memory.available_bytes(), 8192 * kMiB);
  EXPECT_EQ(memory.describe(), "MemAvailable");
}

TEST_F(SystemMemoryTest, UnreadableMeminfoIsAnErrorNamingTheFile) {
  fs::remove(root_ / "proc/meminfo");
  try {
    read_system_memory(root_);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(
        std::string(e.what()).find((root_ / "proc/meminfo").string() + ": cannot read it: No such file"),
        std::string::npos)
        << e.what();
  }
  write(root_ / "proc/meminfo", "MemTotal: 100 kB\nMemFree: 50 kB\n");
  EXPECT_THROW(read_system_memory(root_), std::runtime_error) << "no MemAvailable line";
}

TEST(SystemMemory, OnThisMachine) {
  const SystemMemory memory = read_system_memory();
  EXPECT_GT(memory.available_bytes(), 0);
  EXPECT_LE(memory.available_bytes(), memory.mem_available_bytes);
}

}  // namespace
}  // namespace minimind
