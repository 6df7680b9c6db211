// ArgumentCheck: the argument checks of backend.cpp's public ops.
#include "backend/argument_check.h"

#include <stdexcept>

namespace minimind {
namespace {

// The dtypes a backend may compute in, in the order messages list them.
constexpr DType kComputeCandidates[] = {DType::f32, DType::f64, DType::bf16, DType::f16};

}  // namespace

bool is_floating(DType dtype) {
  return dtype == DType::f32 || dtype == DType::f64 || dtype == DType::bf16 || dtype == DType::f16;
}

bool overlaps(const Tensor& x, const Tensor& y) {
  if (x.bytes() == 0 || y.bytes() == 0 || x.device() != y.device()) return false;
  const char* x_begin = static_cast<const char*>(x.raw());
  const char* y_begin = static_cast<const char*>(y.raw());
  return x_begin < y_begin + y.bytes() && y_begin < x_begin + x.bytes();
}

void ArgumentCheck::fail(const std::string& message) const {
  throw std::invalid_argument(std::string(op_) + ": " + message);
}

void ArgumentCheck::fail(std::string_view arg, const std::string& message) const {
  fail("argument '" + std::string(arg) + "' " + message);
}

void ArgumentCheck::on_device(const Tensor& t, std::string_view arg) const {
  expect_defined(t, op_, arg);
  if (t.device() != backend_.device())
    fail(arg, "should be on " + std::string(device_name(backend_.device())) + ", got " + t.describe());
}

void ArgumentCheck::rank(const Tensor& t, int rank, std::string_view arg) const {
  on_device(t, arg);
  expect_rank(t, rank, op_, arg);
}

void ArgumentCheck::tensor(const Tensor& t, const Shape& shape, DType dtype, std::string_view arg) const {
  on_device(t, arg);
  expect_shape(t, shape, op_, arg);
  expect_dtype(t, dtype, op_, arg);
}

void ArgumentCheck::optional(const Tensor& t, const Shape& shape, DType dtype, std::string_view arg) const {
  if (t.defined()) tensor(t, shape, dtype, arg);
}

void ArgumentCheck::indices(const Tensor& t, const Shape& shape, std::string_view arg) const {
  tensor(t, shape, DType::i32, arg);
}

void ArgumentCheck::scalars(const Tensor& t, int64_t size, std::string_view arg) const {
  tensor(t, {size}, DType::f64, arg);
}

DType ArgumentCheck::compute(const Tensor& t, int rank, std::string_view arg) const {
  this->rank(t, rank, arg);
  if (!backend_.supports_compute(t.dtype()))
    fail(arg, "should be in a compute dtype of this backend (" + compute_dtypes() + "), got " + t.describe());
  return t.dtype();
}

DType ArgumentCheck::statistic(const Tensor& t, int rank, std::string_view arg) const {
  this->rank(t, rank, arg);
  std::string wide;
  for (DType c : kComputeCandidates) {
    if (!backend_.supports_compute(c)) continue;
    if (wide_dtype(c) == t.dtype()) return t.dtype();
    const std::string name(dtype_name(wide_dtype(c)));
    if (wide.find(name) == std::string::npos) wide += (wide.empty() ? "" : " or ") + name;
  }
  fail(arg, "should be in a statistic dtype of this backend (" + wide + "), got " + t.describe());
}

void ArgumentCheck::dropout(const Dropout& dropout, std::string_view arg) const {
  if (!(dropout.probability >= 0.0 && dropout.probability < 1.0))
    fail(arg, "probability should be in [0, 1), got " + std::to_string(dropout.probability));
  if (dropout.active()) indices(dropout.step_seed, {2}, std::string(arg) + ".step_seed");
}

void ArgumentCheck::expert_weights(const ExpertWeights& w, DType dtype, std::string_view arg) const {
  const std::string block = std::string(arg) + ".block";
  on_device(w.block, block);
  expect_dtype(w.block, dtype, op_, block);
  if (w.shape.size() != 2 || w.shape[0] < 0 || w.shape[1] < 0)
    fail(arg, "should hold matrices of shape [out, in], got shape " + shape_string(w.shape));
  const int64_t matrix = shape_numel(w.shape);
  if (w.count < 1) fail(arg, "should hold at least one expert, got count " + std::to_string(w.count));
  if (w.stride < 0) fail(arg, "stride should not be negative, got " + std::to_string(w.stride));
  if (w.count > 1 && w.stride < matrix)
    fail(arg, "stride " + std::to_string(w.stride) + " is below the " + std::to_string(matrix) +
                  " elements of one matrix: experts would overlap");
  const int64_t needed = (w.count - 1) * w.stride + matrix;
  if (w.block.numel() < needed)
    fail(arg, std::to_string(w.count) + " experts of " + shape_string(w.shape) + " at stride " +
                  std::to_string(w.stride) + " need " + std::to_string(needed) + " elements, block is " +
                  w.block.describe());
}

std::string ArgumentCheck::compute_dtypes() const {
  std::string names;
  for (DType c : kComputeCandidates)
    if (backend_.supports_compute(c))
      names += std::string(names.empty() ? "" : ", ") + std::string(dtype_name(c));
  return names;
}

}  // namespace minimind
