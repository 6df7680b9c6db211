// The device listing: the CPU through its backend's own report, each GPU through the driver.
#include "backend/device_list.h"

#include <exception>

#include "backend/cuda/cuda_device.h"

namespace minimind {

namespace {

DeviceChoice cpu_choice() {
  DeviceChoice cpu;
  cpu.spec = {Device::cpu, 0};
  try {
    const DeviceInfo info = make_backend(cpu.spec, 1)->device_info();
    cpu.name = info.name;
    cpu.total_bytes = info.total_bytes;
    cpu.free_bytes = info.free_bytes;
  } catch (const std::exception&) {
    // The host's figures are unreadable (no /proc): the CPU still computes; its memory is unknown.
  }
  return cpu;
}

DeviceChoice gpu_choice(int index) {
  DeviceChoice gpu;
  gpu.spec = {Device::cuda, index};
  try {
    const DeviceInfo info = cuda_device_info(index);
    gpu.name = info.name;
    gpu.total_bytes = info.total_bytes;
    gpu.free_bytes = info.free_bytes;
  } catch (const std::exception& e) {
    gpu.unavailable = e.what();
  }
  return gpu;
}

std::string described(const DeviceSpec& device, const char* what, const std::string& name) {
  return device.name() + " " + what + (name.empty() ? "" : ", " + name);
}

}  // namespace

std::vector<DeviceChoice> list_devices() {
  std::vector<DeviceChoice> devices = {cpu_choice()};
  const int count = cuda_device_count();
  for (int index = 0; index < count; ++index) devices.push_back(gpu_choice(index));
  if (count == 0) {
    DeviceChoice none;
    none.spec = {Device::cuda, 0};
    none.unavailable = cuda_unavailable_reason(0);
    if (none.unavailable.empty()) none.unavailable = "the driver shows no GPU";
    devices.push_back(none);
  }
  return devices;
}

AvailableMemory available_memory(const DeviceSpec& device) {
  if (device.kind == Device::cpu) return available_system_memory();
  const DeviceInfo info = cuda_device_info(device.index);
  return {info.free_bytes, described(device, "free memory", info.name)};
}

AvailableMemory device_capacity(const DeviceSpec& device) {
  if (device.kind == Device::cpu) return available_system_memory();
  const DeviceInfo info = cuda_device_info(device.index);
  return {info.total_bytes, described(device, "total memory", info.name)};
}

}  // namespace minimind
