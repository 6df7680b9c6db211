// libFuzzer target for the safetensors reader: any byte string must either parse into entries that lie inside
// the data section and reach its end (and read back, or refuse with SafetensorsError) or be refused with
// SafetensorsError. Anything else -- a crash, a sanitizer report, another exception type -- is a bug.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace minimind;
  std::vector<char> bytes(size);
  if (size) std::memcpy(bytes.data(), data, size);
  try {
    const SafetensorsFile file = SafetensorsFile::parse(bytes, "fuzz-input");
    uint64_t header_bytes = 0;
    std::memcpy(&header_bytes, data, sizeof header_bytes);
    const uint64_t data_bytes = size - 8 - header_bytes;
    uint64_t previous_end = 0;
    for (const SafetensorsEntry& entry : file.entries()) {
      if (entry.begin > entry.end || entry.end > data_bytes) __builtin_trap();
      if (entry.begin != entry.end) {
        if (entry.begin < previous_end) __builtin_trap();  // overlap slipped through
        previous_end = entry.end;
      }
      const bool integer = entry.dtype == "I32" || entry.dtype == "I64";
      try {
        const Tensor tensor = file.read(entry.name, integer ? DType::i32 : DType::f64);
        if (tensor.shape() != entry.shape) __builtin_trap();
      } catch (const SafetensorsError&) {
      }
    }
    if (previous_end != data_bytes) __builtin_trap();  // bytes after the last tensor slipped through
  } catch (const SafetensorsError&) {
  }
  return 0;
}
