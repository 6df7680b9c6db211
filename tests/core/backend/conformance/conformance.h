// The machinery of the backend conformance suite: operands held twice (f64 on the host for the reference
// CpuBackend, the dtype of the operand's role on the backend under test: compute, statistic or step scalar,
// see precision.h), the norm-relative comparison, per-dtype tolerances, and the test fixture that runs every
// op case on every backend of backends_under_test().
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/precision.h"
#include "core/backend/conformance/backends_under_test.h"
#include "tensor/convert.h"

namespace minimind::conformance {

// How far a result may stray from the f64 reference, in the norm-relative measure of expect_close, for the
// compute dtype of the backend under test. Each case states its own, beside the case, for both compute
// dtypes a backend may run the suite in: f32_within(1e-5).with_bf16(2e-2).
struct Tolerance {
  double f32;
  // 2e-2 on outputs and gradients (bf16 keeps 8 significant bits) unless the case says why not; a bf16 run
  // of a case without one fails and says so rather than guess.
  std::optional<double> bf16;

  Tolerance with_bf16(double relative) const { return {f32, relative}; }
};

inline Tolerance f32_within(double relative) {
  return {relative, std::nullopt};
}

// The role of an operand (precision.h), which sets its dtype on the backend under test: compute operands in
// the compute dtype C (activations, their gradients, the weights the products read), statistics in
// wide_dtype(C) (rstd, lse, losses, router logits and scores, top-k weights, probabilities; also parameter
// gradients, master weights and AdamW's moments), step scalars in f64. The reference holds every role in f64.
enum class Role { compute, statistic, scalar };

// One tensor of an op call, held twice with the same values: `reference` in f64 (i32 for indices) on the
// host for the reference CpuBackend, `under_test` in its role's dtype on the backend under test.
struct Operand {
  Tensor reference;
  Tensor under_test;
};

// How a result differs from the reference: the largest |result - reference| and where, the largest
// |reference|, and how many elements are NaN or infinite in one and not the other.
struct Discrepancy {
  double max_abs_difference = 0;
  double max_abs_reference = 0;
  int64_t worst_index = -1;
  int64_t non_finite_mismatches = 0;
  // max |a - b| / max |ref|: a norm-relative measure, so that entries near zero (whose elementwise relative
  // error means nothing after cancellation) do not blow it up. `scale_floor` stands in for max |ref| when the
  // reference itself cancels to nearly zero; the smallest double keeps an all-zero reference defined.
  double relative(double scale_floor = 0.0) const {
    return max_abs_difference /
           std::max({max_abs_reference, scale_floor, std::numeric_limits<double>::min()});
  }
};

// `compared(i)` says whether flat element i takes part (entries the op leaves unspecified do not).
inline Discrepancy discrepancy(const Tensor& result, const Tensor& reference,
                               const std::function<bool(int64_t)>& compared = {}) {
  Discrepancy d;
  const double* a = result.data<double>();
  const double* b = reference.data<double>();
  for (int64_t i = 0; i < reference.numel(); ++i) {
    if (compared && !compared(i)) continue;
    if (std::isfinite(a[i]) != std::isfinite(b[i])) {
      ++d.non_finite_mismatches;
      continue;
    }
    if (!std::isfinite(b[i])) continue;
    const double difference = std::abs(a[i] - b[i]);
    if (difference > d.max_abs_difference || d.worst_index < 0) {
      d.max_abs_difference = std::max(d.max_abs_difference, difference);
      d.worst_index = i;
    }
    d.max_abs_reference = std::max(d.max_abs_reference, std::abs(b[i]));
  }
  return d;
}

// The operands, the two backends and the random source of one case.
class ConformanceContext {
 public:
  ConformanceContext(Backend& under_test, DType compute_dtype, uint64_t seed)
      : under_test_(under_test), compute_dtype_(compute_dtype), rng_(seed) {}

  Backend& under_test() { return under_test_; }
  CpuBackend& reference() { return reference_; }
  DType compute_dtype() const { return compute_dtype_; }
  std::mt19937_64& rng() { return rng_; }

  // The dtype of a role on the backend under test.
  DType dtype(Role role) const {
    switch (role) {
      case Role::compute:
        return compute_dtype_;
      case Role::statistic:
        return wide_dtype(compute_dtype_);
      case Role::scalar:
        return DType::f64;
    }
    return compute_dtype_;
  }

  // The values of the f64 host tensor `values`, rounded once to the dtype of `role`. The reference computes
  // on the rounded values too, so a comparison measures the op's arithmetic, not the rounding of its inputs.
  Operand from_values(const Tensor& values, Role role = Role::compute) {
    const Tensor narrow = convert_dtype(values, dtype(role));
    Operand operand{convert_dtype(narrow, DType::f64), under_test_.empty(values.shape(), dtype(role))};
    under_test_.copy(narrow, operand.under_test);
    return operand;
  }

  // Uniform in [-scale, scale]. Outputs start from random values too, so that an op that should overwrite
  // but accumulates, or accumulates into the wrong place, differs from the reference.
  Operand random(const Shape& shape, double scale = 1.0, Role role = Role::compute) {
    Tensor values = Tensor::empty(shape, DType::f64);
    std::uniform_real_distribution<double> uniform(-scale, scale);
    for (double& x : values.span<double>()) x = uniform(rng_);
    return from_values(values, role);
  }
  Operand random(const Shape& shape, Role role, double scale = 1.0) { return random(shape, scale, role); }

  // f64 step scalars (loss totals, control, result, aux) with the given values on both sides.
  Operand scalars(const Shape& shape, const std::vector<double>& values) {
    Tensor host = Tensor::empty(shape, DType::f64);
    if (static_cast<int64_t>(values.size()) != host.numel()) {
      ADD_FAILURE() << values.size() << " values for scalars of shape " << shape_string(shape);
      return {};
    }
    std::copy(values.begin(), values.end(), host.data<double>());
    return from_values(host, Role::scalar);
  }

  // An i32 host tensor (ids, targets, expert indices) on both sides.
  Operand indices(const Tensor& values) {
    Operand operand{values, under_test_.empty(values.shape(), DType::i32)};
    under_test_.copy(values, operand.under_test);
    return operand;
  }
  // A micro-step's dropout seed (i32 [2], low word first) on both sides.
  Operand step_seed(uint32_t low, uint32_t high) {
    Tensor values = Tensor::empty({2}, DType::i32);
    values.data<int32_t>()[0] = static_cast<int32_t>(low);
    values.data<int32_t>()[1] = static_cast<int32_t>(high);
    return indices(values);
  }
  Operand random_indices(const Shape& shape, int32_t upper) {
    Tensor values = Tensor::empty(shape, DType::i32);
    std::uniform_int_distribution<int32_t> uniform(0, upper - 1);
    for (int32_t& x : values.span<int32_t>()) x = uniform(rng_);
    return indices(values);
  }

  // The result on the backend under test, brought back to the host in f64 (a copy, never a view).
  Tensor result(const Operand& operand) {
    return convert_dtype(under_test_.to_host(operand.under_test), DType::f64);
  }
  Tensor result_indices(const Operand& operand) {
    const Tensor host = under_test_.to_host(operand.under_test);
    Tensor copy = Tensor::empty(host.shape(), DType::i32);
    std::copy(host.span<int32_t>().begin(), host.span<int32_t>().end(), copy.span<int32_t>().begin());
    return copy;
  }

  double tolerance(const Tolerance& tolerance) const {
    switch (compute_dtype_) {
      case DType::f32:
      case DType::f64:
        return tolerance.f32;
      case DType::bf16:
        if (tolerance.bf16) return *tolerance.bf16;
        ADD_FAILURE() << "this case states no bf16 tolerance yet";
        return 0;
      default:
        ADD_FAILURE() << "no tolerance for compute dtype " << dtype_name(compute_dtype_);
        return 0;
    }
  }

  // The backend's result of `operand` against the reference's, within the case's tolerance.
  // `scale_floor`: the size of the terms that cancel in a result whose reference is nearly zero (see
  // Discrepancy::relative); 0 for results measured against themselves.
  void expect_close(const Operand& operand, const Tolerance& tolerance, const std::string& what,
                    const std::function<bool(int64_t)>& compared = {}, double scale_floor = 0.0) {
    const Tensor result_values = result(operand);
    ASSERT_EQ(result_values.shape(), operand.reference.shape()) << what;
    expect_within(discrepancy(result_values, operand.reference, compared), result_values, operand.reference,
                  tolerance, what, scale_floor);
  }

  // Two scalars (a reduction, a loss) within the case's tolerance, relative to the reference.
  void expect_close(double result, double reference, const Tolerance& tolerance, const std::string& what) {
    const Tensor a = Tensor::zeros({1}, DType::f64), b = Tensor::zeros({1}, DType::f64);
    a.data<double>()[0] = result;
    b.data<double>()[0] = reference;
    expect_within(discrepancy(a, b), a, b, tolerance, what);
  }

  // Indices must match exactly: they select rows, and no tolerance makes a different choice right.
  void expect_same_indices(const Operand& operand, const std::string& what) {
    const Tensor values = result_indices(operand);
    ASSERT_EQ(values.shape(), operand.reference.shape()) << what;
    int64_t mismatches = 0;
    for (int64_t i = 0; i < values.numel(); ++i) {
      const int32_t a = values.data<int32_t>()[i], b = operand.reference.data<int32_t>()[i];
      if (a != b && ++mismatches <= 5)
        ADD_FAILURE() << what << "[" << i << "] = " << a << " on the backend under test, " << b
                      << " on the f64 reference";
    }
    EXPECT_EQ(mismatches, 0) << what << ": " << mismatches << " of " << values.numel() << " indices differ";
  }

 private:
  void expect_within(const Discrepancy& d, const Tensor& result, const Tensor& reference,
                     const Tolerance& tolerance, const std::string& what, double scale_floor = 0.0) {
    const double limit = this->tolerance(tolerance);
    EXPECT_EQ(d.non_finite_mismatches, 0) << what << ": NaN or infinity where the f64 reference has none";
    EXPECT_LE(d.relative(scale_floor), limit)
        << what << ": max |result - reference| " << d.max_abs_difference << " over max |reference| "
        << d.max_abs_reference
        << (scale_floor > d.max_abs_reference
                ? " (floored to the scale of the terms " + std::to_string(scale_floor) + ")"
                : std::string())
        << " (largest at element " << d.worst_index << ": "
        << (d.worst_index >= 0 ? result.data<double>()[d.worst_index] : 0.0) << " vs "
        << (d.worst_index >= 0 ? reference.data<double>()[d.worst_index] : 0.0) << "), limit " << limit
        << " for " << dtype_name(compute_dtype_);
  }

  Backend& under_test_;
  CpuBackend reference_;  // f64; keeps OpenMP's thread count as the backend under test set it
  DType compute_dtype_;
  std::mt19937_64 rng_;
};

// Every case runs from the same seed: its inputs depend only on its shapes, and reruns are identical.
constexpr uint64_t kConformanceSeed = 20240611;

// A case of op table `Case` on one backend. Cases skip, saying why, on a backend that cannot run here.
template <typename CaseType>
class OpConformance : public ::testing::TestWithParam<std::tuple<BackendUnderTest, CaseType>> {
 public:
  using Case = CaseType;

 protected:
  void SetUp() override {
    const BackendUnderTest& backend = std::get<0>(this->GetParam());
    const std::string why_not = backend.why_unavailable();
    if (!why_not.empty()) GTEST_SKIP() << backend.name << " cannot run here: " << why_not;
    backend_ = backend.make();
    context_.emplace(*backend_, backend.compute_dtype, kConformanceSeed);
  }

  const Case& test_case() const { return std::get<1>(this->GetParam()); }
  ConformanceContext& context() { return *context_; }

 private:
  std::unique_ptr<Backend> backend_;
  std::optional<ConformanceContext> context_;
};

// Every case of `cases` on every backend under test.
template <typename Case>
auto on_every_backend(const std::vector<Case>& cases) {
  return ::testing::Combine(::testing::ValuesIn(backends_under_test()), ::testing::ValuesIn(cases));
}

// "<backend>_<dtype>_<case>", e.g. cpu_2_threads_f32_gqa4_head_dim_128_t7: which backend and dtype ran.
template <typename Case>
std::string conformance_test_name(const ::testing::TestParamInfo<std::tuple<BackendUnderTest, Case>>& info) {
  const auto& [backend, op_case] = info.param;
  return backend.name + "_" + std::string(dtype_name(backend.compute_dtype)) + "_" + op_case.name;
}

}  // namespace minimind::conformance
