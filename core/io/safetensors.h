// safetensors: an 8-byte little-endian header length, a JSON header of {name: {dtype, shape, data_offsets}}
// (plus optional "__metadata__" of strings), then the raw little-endian data. Reading validates the whole
// header before any byte of data is touched; writing is atomic.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace minimind {

class SafetensorsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // as in the file: "F32", "BF16", "F16", "F64", "I32", "I64", ...
  Shape shape;
  uint64_t begin = 0;  // data offsets, relative to the start of the data section
  uint64_t end = 0;
};

struct NamedTensor {
  std::string name;
  Tensor tensor;  // host tensor; written in its own dtype (f32, f64, bf16, f16, i32)
};

class SafetensorsFile {
 public:
  // Reads and validates the file; throws SafetensorsError naming the path and what is wrong.
  static SafetensorsFile open(const std::filesystem::path& path);
  // The same checks over the bytes of a whole file held in memory; `path` only names it in messages.
  static SafetensorsFile parse(std::vector<char> bytes, const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }  // in file order of offsets
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const;
  const SafetensorsEntry& entry(const std::string& name) const;  // throws naming the missing tensor

  // The tensor converted to `as`: floating files (F64, F32, BF16, F16) to f32 or f64; I32 / I64 to i32
  // (I64 values outside the i32 range throw).
  Tensor read(const std::string& name, DType as) const;

 private:
  std::filesystem::path path_;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
  std::shared_ptr<const std::vector<char>> data_;  // the data section
};

// Writes the tensors in the given order with contiguous offsets, atomically. Throws std::invalid_argument
// for duplicate or reserved names and for tensors that are undefined, on a device or of another dtype.
void save_safetensors(const std::filesystem::path& path, std::span<const NamedTensor> tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace minimind
