// Tensor: a shape, a dtype and a device over shared storage. Tensors are always contiguous (row-major);
// views (reshape, row ranges, flat sub-ranges) share storage and never copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace minimind {

enum class DType : uint8_t { f32, f64, bf16, f16, i32, u16 };
enum class Device : uint8_t { cpu, cuda };

size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);
std::string_view device_name(Device device);

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return DType::f32; }
template <>
constexpr DType dtype_of<double>() { return DType::f64; }
template <>
constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <>
constexpr DType dtype_of<uint16_t>() { return DType::u16; }

using Shape = std::vector<int64_t>;
int64_t shape_numel(const Shape& shape);
std::string shape_string(const Shape& shape);

// Owns a block of bytes on one device; `release` frees it.
class Storage {
 public:
  Storage(Device device, size_t bytes, void* data, std::function<void(void*)> release);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  Device device() const { return device_; }
  size_t bytes() const { return bytes_; }
  void* data() const { return data_; }

 private:
  Device device_;
  size_t bytes_;
  void* data_;
  std::function<void(void*)> release_;
};

class Tensor {
 public:
  Tensor() = default;
  Tensor(std::shared_ptr<Storage> storage, size_t offset_bytes, Shape shape, DType dtype);

  // Host tensors, 64-byte aligned. `empty` leaves the contents uninitialized.
  static Tensor empty(Shape shape, DType dtype);
  static Tensor zeros(Shape shape, DType dtype);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int axis) const;  // negative axes count from the end
  int64_t numel() const { return shape_numel(shape_); }
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const;
  std::string describe() const;  // "f32[4, 8] on cpu"

  void* raw() const;
  template <typename T>
  T* data() const {
    check_element_type(dtype_of<T>());
    return static_cast<T*>(raw());
  }
  template <typename T>
  std::span<T> span() const {
    return {data<T>(), static_cast<size_t>(numel())};
  }

  // Views sharing storage.
  Tensor view(Shape shape) const;                         // same element count
  Tensor rows(int64_t begin, int64_t end) const;          // a range along axis 0
  Tensor flat(int64_t offset, Shape shape) const;         // elements [offset, offset + numel(shape))
  bool same_storage(const Tensor& other) const { return storage_ == other.storage_; }

 private:
  void check_element_type(DType requested) const;

  std::shared_ptr<Storage> storage_;
  size_t offset_bytes_ = 0;
  Shape shape_;
  DType dtype_ = DType::f32;
};

// Argument checks for ops: each throws std::invalid_argument naming the op, the argument, what was
// expected and what was found.
void expect_shape(const Tensor& t, const Shape& expected, std::string_view op, std::string_view arg);
void expect_dtype(const Tensor& t, DType expected, std::string_view op, std::string_view arg);
void expect_rank(const Tensor& t, int rank, std::string_view op, std::string_view arg);
void expect_defined(const Tensor& t, std::string_view op, std::string_view arg);

}  // namespace minimind
