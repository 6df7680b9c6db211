// Tensor storage, views and argument checks.
#include "tensor/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>
#include <stdexcept>

namespace minimind {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::bf16: return 2;
    case DType::f16: return 2;
    case DType::i32: return 4;
    case DType::u16: return 2;
  }
  return 0;
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::bf16: return "bf16";
    case DType::f16: return "f16";
    case DType::i32: return "i32";
    case DType::u16: return "u16";
  }
  return "?";
}

std::string_view device_name(Device device) { return device == Device::cpu ? "cpu" : "cuda"; }

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_string(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

Storage::Storage(Device device, size_t bytes, void* data, std::function<void(void*)> release)
    : device_(device), bytes_(bytes), data_(data), release_(std::move(release)) {}

Storage::~Storage() {
  if (release_) release_(data_);
}

Tensor::Tensor(std::shared_ptr<Storage> storage, size_t offset_bytes, Shape shape, DType dtype)
    : storage_(std::move(storage)), offset_bytes_(offset_bytes), shape_(std::move(shape)), dtype_(dtype) {
  for (int64_t d : shape_)
    if (d < 0) throw std::invalid_argument("tensor: negative dimension in shape " + shape_string(shape_));
  if (offset_bytes_ + bytes() > storage_->bytes())
    throw std::out_of_range("tensor: view " + shape_string(shape_) + " runs past its storage");
}

Tensor Tensor::empty(Shape shape, DType dtype) {
  for (int64_t d : shape)
    if (d < 0) throw std::invalid_argument("tensor: negative dimension in shape " + shape_string(shape));
  const size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* data = rounded ? std::aligned_alloc(64, rounded) : nullptr;
  if (rounded && !data)
    throw std::bad_alloc();
  auto storage = std::make_shared<Storage>(Device::cpu, bytes, data, [](void* p) { std::free(p); });
  return Tensor(std::move(storage), 0, std::move(shape), dtype);
}

Tensor Tensor::zeros(Shape shape, DType dtype) {
  Tensor t = empty(std::move(shape), dtype);
  if (t.bytes()) std::memset(t.raw(), 0, t.bytes());
  return t;
}

int64_t Tensor::dim(int axis) const {
  const int r = rank();
  const int a = axis < 0 ? axis + r : axis;
  if (a < 0 || a >= r)
    throw std::out_of_range("tensor: axis " + std::to_string(axis) + " of a rank-" + std::to_string(r) + " tensor");
  return shape_[a];
}

Device Tensor::device() const { return storage_ ? storage_->device() : Device::cpu; }

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  return std::string(dtype_name(dtype_)) + shape_string(shape_) + " on " + std::string(device_name(device()));
}

void* Tensor::raw() const {
  if (!storage_) throw std::logic_error("tensor: access to an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_bytes_;
}

void Tensor::check_element_type(DType requested) const {
  if (requested != dtype_)
    throw std::invalid_argument("tensor: " + describe() + " accessed as " + std::string(dtype_name(requested)));
}

Tensor Tensor::view(Shape shape) const {
  if (shape_numel(shape) != numel())
    throw std::invalid_argument("tensor: cannot view " + describe() + " as " + shape_string(shape));
  return Tensor(storage_, offset_bytes_, std::move(shape), dtype_);
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  if (rank() == 0 || begin < 0 || end < begin || end > shape_[0])
    throw std::out_of_range("tensor: rows [" + std::to_string(begin) + ", " + std::to_string(end) + ") of " +
                            describe());
  Shape shape = shape_;
  shape[0] = end - begin;
  const int64_t row_elements = shape_[0] ? numel() / shape_[0] : 0;
  return Tensor(storage_, offset_bytes_ + static_cast<size_t>(begin * row_elements) * dtype_size(dtype_),
                std::move(shape), dtype_);
}

Tensor Tensor::flat(int64_t offset, Shape shape) const {
  if (offset < 0 || offset + shape_numel(shape) > numel())
    throw std::out_of_range("tensor: flat view at " + std::to_string(offset) + " of " + shape_string(shape) +
                            " runs past " + describe());
  return Tensor(storage_, offset_bytes_ + static_cast<size_t>(offset) * dtype_size(dtype_), std::move(shape),
                dtype_);
}

namespace {
[[noreturn]] void argument_error(std::string_view op, std::string_view arg, const std::string& what) {
  throw std::invalid_argument(std::string(op) + ": argument '" + std::string(arg) + "' " + what);
}
}  // namespace

void expect_defined(const Tensor& t, std::string_view op, std::string_view arg) {
  if (!t.defined()) argument_error(op, arg, "is undefined");
}

void expect_shape(const Tensor& t, const Shape& expected, std::string_view op, std::string_view arg) {
  expect_defined(t, op, arg);
  if (t.shape() != expected)
    argument_error(op, arg, "should have shape " + shape_string(expected) + ", got " + t.describe());
}

void expect_dtype(const Tensor& t, DType expected, std::string_view op, std::string_view arg) {
  expect_defined(t, op, arg);
  if (t.dtype() != expected)
    argument_error(op, arg, "should be " + std::string(dtype_name(expected)) + ", got " + t.describe());
}

void expect_rank(const Tensor& t, int rank, std::string_view op, std::string_view arg) {
  expect_defined(t, op, arg);
  if (t.rank() != rank)
    argument_error(op, arg, "should have rank " + std::to_string(rank) + ", got " + t.describe());
}

}  // namespace minimind
