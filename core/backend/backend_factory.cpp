// Backends by device name. A device kind this build has no backend for is refused here, before any model
// or data is touched, with what the build offers instead.
#include "backend/backend_factory.h"

#include <charconv>

#include "backend/cpu/cpu_backend.h"
#include "backend/cuda/cuda_device.h"

namespace minimind {

namespace {
constexpr std::string_view kAcceptedForms = "cpu, cuda or cuda:N (N the GPU's number, 0 for the first)";
constexpr int kMaxCudaIndex = 1023;

[[noreturn]] void refuse_name(std::string_view name, std::string_view why) {
  throw DeviceNameError("device '" + std::string(name) + "': " + std::string(why) + "; expected " +
                        std::string(kAcceptedForms));
}
}  // namespace

std::string DeviceSpec::name() const {
  return kind == Device::cpu ? std::string("cpu") : "cuda:" + std::to_string(index);
}

DeviceSpec parse_device(std::string_view name) {
  if (name == "cpu") return {Device::cpu, 0};
  if (name == "cuda") return {Device::cuda, 0};
  constexpr std::string_view cuda_prefix = "cuda:";
  if (!name.starts_with(cuda_prefix)) refuse_name(name, "unknown device");
  const std::string_view digits = name.substr(cuda_prefix.size());
  // from_chars would take a leading '-'; an ordinal is digits only.
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos)
    refuse_name(name, "the GPU number must be a non-negative integer");
  int index = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (error != std::errc() || end != digits.data() + digits.size() || index > kMaxCudaIndex)
    refuse_name(name, "the GPU number must be at most " + std::to_string(kMaxCudaIndex));
  return {Device::cuda, index};
}

std::unique_ptr<Backend> make_backend(const DeviceSpec& device, int threads) {
  switch (device.kind) {
    case Device::cpu:
      return std::make_unique<CpuBackend>(threads);
    case Device::cuda:
      return make_cuda_backend(device.index);
  }
  throw DeviceUnavailableError("device '" + device.name() + "': no backend for this device kind");
}

std::unique_ptr<Backend> make_backend(std::string_view device, int threads) {
  return make_backend(parse_device(device), threads);
}

}  // namespace minimind
