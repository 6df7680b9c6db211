// The device listing on whatever machine runs it: the CPU first; then either each GPU with its name and
// sane memory figures, or (no GPU, no driver, no CUDA in the build) one cuda:0 entry carrying the same reason
// the factory gives, and no crash. Reference: cuda_device_count and cuda_unavailable_reason
// (backend/cuda/cuda_device.h), and the preflight's system figure for the CPU.
#include "backend/device_list.h"

#include <gtest/gtest.h>

#include "backend/cuda/cuda_device.h"

namespace minimind {
namespace {

TEST(DeviceList, TheCpuComesFirstWithTheHostsMemory) {
  const std::vector<DeviceChoice> devices = list_devices();
  ASSERT_FALSE(devices.empty());
  const DeviceChoice& cpu = devices.front();
  EXPECT_EQ(cpu.spec, (DeviceSpec{Device::cpu, 0}));
  EXPECT_TRUE(cpu.usable());
  EXPECT_FALSE(cpu.name.empty());
  EXPECT_GT(cpu.total_bytes, 0);
  EXPECT_GE(cpu.free_bytes, 0);
  // The preflight on the CPU reads the system's figure, as before (the same kind of source: MemAvailable,
  // or a cgroup's limit, whose figures may move between the two reads).
  const auto kind = [](const std::string& source) { return source.substr(0, source.find(':')); };
  EXPECT_EQ(kind(available_memory(cpu.spec).source), kind(available_system_memory().source));
}

TEST(DeviceList, EachGpuOrWhyThereIsNone) {
  const std::vector<DeviceChoice> devices = list_devices();
  const int count = cuda_device_count();
  if (count == 0) {
    ASSERT_EQ(devices.size(), 2u);
    const DeviceChoice& none = devices[1];
    EXPECT_EQ(none.spec, (DeviceSpec{Device::cuda, 0}));
    EXPECT_FALSE(none.usable());
    EXPECT_EQ(none.unavailable, cuda_unavailable_reason(0));
    EXPECT_FALSE(none.unavailable.empty());
    EXPECT_THROW(available_memory(none.spec), DeviceUnavailableError);
    EXPECT_THROW(device_capacity(none.spec), DeviceUnavailableError);
    std::printf("[          ] no GPU here: %s\n", none.unavailable.c_str());
    return;
  }
  ASSERT_EQ(devices.size(), static_cast<size_t>(count) + 1);
  for (int index = 0; index < count; ++index) {
    const DeviceChoice& gpu = devices[static_cast<size_t>(index) + 1];
    EXPECT_EQ(gpu.spec, (DeviceSpec{Device::cuda, index}));
    if (!gpu.usable()) {
      std::printf("[          ] cuda:%d cannot be used: %s\n", index, gpu.unavailable.c_str());
      continue;
    }
    std::printf("[          ] cuda:%d: %s, %lld of %lld bytes free\n", index, gpu.name.c_str(),
                (long long)gpu.free_bytes, (long long)gpu.total_bytes);
    EXPECT_FALSE(gpu.name.empty());
    EXPECT_GT(gpu.total_bytes, int64_t{1} << 30);
    EXPECT_GT(gpu.free_bytes, 0);
    EXPECT_LE(gpu.free_bytes, gpu.total_bytes);
    const AvailableMemory free = available_memory(gpu.spec);
    EXPECT_EQ(free.source, "cuda:" + std::to_string(index) + " free memory, " + gpu.name);
    EXPECT_LE(free.bytes, gpu.total_bytes);
    const AvailableMemory capacity = device_capacity(gpu.spec);
    EXPECT_EQ(capacity.bytes, gpu.total_bytes);
    EXPECT_EQ(capacity.source, "cuda:" + std::to_string(index) + " total memory, " + gpu.name);
  }
  // A GPU past the last one is refused with the count, not a crash.
  EXPECT_THROW(available_memory({Device::cuda, count}), DeviceUnavailableError);
}

}  // namespace
}  // namespace minimind
