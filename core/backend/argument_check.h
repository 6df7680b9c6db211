// The argument checks of one op call, used by the public ops of Backend (backend.cpp): defined-ness, the
// backend's device, shapes, and dtypes by role (precision.h). Every failure throws std::invalid_argument
// whose message starts with the op's name and names the argument, what was expected and what was found.
#pragma once

#include <string>
#include <string_view>

#include "backend/backend.h"

namespace minimind {

class ArgumentCheck {
 public:
  ArgumentCheck(const Backend& backend, std::string_view op) : backend_(backend), op_(op) {}

  [[noreturn]] void fail(const std::string& message) const;
  [[noreturn]] void fail(std::string_view arg, const std::string& message) const;

  // Defined and on the backend's device.
  void on_device(const Tensor& t, std::string_view arg) const;
  void rank(const Tensor& t, int rank, std::string_view arg) const;
  void tensor(const Tensor& t, const Shape& shape, DType dtype, std::string_view arg) const;
  // The same, for an argument that may be undefined.
  void optional(const Tensor& t, const Shape& shape, DType dtype, std::string_view arg) const;
  void indices(const Tensor& t, const Shape& shape, std::string_view arg) const;  // i32
  void scalars(const Tensor& t, int64_t size, std::string_view arg) const;        // f64 [size]

  // C, the compute dtype of the call, from its first compute operand: one the backend computes in.
  DType compute(const Tensor& t, int rank, std::string_view arg) const;
  // S (or G, the master dtype) for an op whose first operand is a statistic: the wide dtype of a compute
  // dtype of this backend.
  DType statistic(const Tensor& t, int rank, std::string_view arg) const;

  // The probability in [0, 1) and, when active, the step seed i32 [2] on the device.
  void dropout(const Dropout& dropout, std::string_view arg) const;
  // `count` >= 1 matrices of a 2-D shape, at a stride that keeps them apart, inside a block of `dtype`.
  void expert_weights(const ExpertWeights& weights, DType dtype, std::string_view arg) const;

 private:
  std::string compute_dtypes() const;

  const Backend& backend_;
  std::string_view op_;
};

bool is_floating(DType dtype);
// Whether two tensors of one device share bytes.
bool overlaps(const Tensor& x, const Tensor& y);

}  // namespace minimind
