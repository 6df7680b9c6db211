// swiglu (references: the closed form g / (1 + exp(-g)) * u computed here in double, to 1e-12; finite
// differences in double of a weighted sum of out w.r.t. gate_up, rtol 1e-6; f32 within 1e-5 of f64).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "support/gradient_check.h"
#include "support/tensor_helpers.h"

namespace minimind {
namespace {

using testing::expect_gradient_near;
using testing::expect_rejects;
using testing::numeric_gradient;
using testing::random_tensor;
using testing::to_f32;
using testing::weighted_sum;

TEST(CpuSwiglu, ForwardMatchesClosedForm) {
  std::mt19937_64 rng(1);
  CpuBackend backend;
  const int64_t rows = 5, width = 9;
  const Tensor gate_up = random_tensor({rows, 2 * width}, DType::f64, rng, 4.0);
  Tensor out = Tensor::empty({rows, width}, DType::f64);
  backend.swiglu_forward(gate_up, out);
  for (int64_t n = 0; n < rows; ++n) {
    for (int64_t i = 0; i < width; ++i) {
      const double gate = gate_up.data<double>()[n * 2 * width + i];
      const double up = gate_up.data<double>()[n * 2 * width + width + i];
      const double expected = gate / (1.0 + std::exp(-gate)) * up;
      EXPECT_NEAR(out.data<double>()[n * width + i], expected, 1e-12 * std::max(1.0, std::abs(expected)));
    }
  }
}

TEST(CpuSwiglu, SaturatedGatesStayFinite) {
  CpuBackend backend;
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor gate_up = Tensor::empty({1, 4}, dtype);
    Tensor out = Tensor::empty({1, 2}, dtype);
    Tensor d_out = Tensor::empty({1, 2}, dtype);
    Tensor d_gate_up = Tensor::empty({1, 4}, dtype);
    const double values[4] = {-200.0, 200.0, 3.0, 5.0};  // gates -200 and 200, ups 3 and 5
    for (int i = 0; i < 4; ++i) {
      if (dtype == DType::f32) {
        gate_up.data<float>()[i] = static_cast<float>(values[i]);
      } else {
        gate_up.data<double>()[i] = values[i];
      }
    }
    if (dtype == DType::f32) {
      d_out.data<float>()[0] = d_out.data<float>()[1] = 1.0f;
    } else {
      d_out.data<double>()[0] = d_out.data<double>()[1] = 1.0;
    }
    backend.swiglu_forward(gate_up, out);
    backend.swiglu_backward(d_out, gate_up, d_gate_up);
    auto value = [&](const Tensor& t, int i) {
      return dtype == DType::f32 ? static_cast<double>(t.data<float>()[i]) : t.data<double>()[i];
    };
    // exp may saturate to the largest finite value rather than infinity: "zero" means below 1e-30.
    EXPECT_NEAR(value(out, 0), 0.0, 1e-30);        // silu(-200) * 3
    EXPECT_EQ(value(out, 1), 1000.0);              // silu(200) * 5
    EXPECT_NEAR(value(d_gate_up, 0), 0.0, 1e-30);  // d_gate at -200
    EXPECT_EQ(value(d_gate_up, 1), 5.0);           // d_gate at 200: up * 1
    EXPECT_NEAR(value(d_gate_up, 2), 0.0, 1e-30);  // d_up: silu(-200)
    EXPECT_EQ(value(d_gate_up, 3), 200.0);
  }
}

TEST(CpuSwiglu, ForwardAgreesBetweenF32AndF64) {
  std::mt19937_64 rng(2);
  CpuBackend backend;
  const int64_t rows = 40, width = 1000;  // the parallel path
  const Tensor gate_up = random_tensor({rows, 2 * width}, DType::f64, rng, 5.0);
  Tensor out = Tensor::empty({rows, width}, DType::f64);
  Tensor out_f32 = Tensor::empty({rows, width}, DType::f32);
  backend.swiglu_forward(gate_up, out);
  backend.swiglu_forward(to_f32(gate_up), out_f32);
  for (int64_t i = 0; i < out.numel(); ++i) {
    const double expected = out.data<double>()[i];
    ASSERT_NEAR(out_f32.data<float>()[i], expected, 1e-5 * std::max(1.0, std::abs(expected))) << i;
  }
}

TEST(CpuSwiglu, BackwardMatchesFiniteDifferencesAndOverwrites) {
  std::mt19937_64 rng(3);
  CpuBackend backend;
  const int64_t rows = 4, width = 6;
  Tensor gate_up = random_tensor({rows, 2 * width}, DType::f64, rng, 3.0);
  const Tensor loss_weights = random_tensor({rows, width}, DType::f64, rng);
  Tensor out = Tensor::empty({rows, width}, DType::f64);
  const auto loss = [&] {
    backend.swiglu_forward(gate_up, out);
    return weighted_sum(out, loss_weights);
  };
  const std::vector<double> numeric = numeric_gradient(gate_up, loss);
  // d_gate_up is overwritten: whatever it held before must not show.
  Tensor d_gate_up = Tensor::empty({rows, 2 * width}, DType::f64);
  for (double& x : d_gate_up.span<double>()) x = std::numeric_limits<double>::quiet_NaN();
  backend.swiglu_backward(loss_weights, gate_up, d_gate_up);
  expect_gradient_near(d_gate_up, numeric, "d_gate_up");
}

TEST(CpuSwiglu, BackwardAgreesBetweenF32AndF64) {
  std::mt19937_64 rng(4);
  CpuBackend backend;
  const int64_t rows = 40, width = 1000;
  const Tensor gate_up = random_tensor({rows, 2 * width}, DType::f64, rng, 5.0);
  const Tensor d_out = random_tensor({rows, width}, DType::f64, rng);
  Tensor d_gate_up = Tensor::empty({rows, 2 * width}, DType::f64);
  Tensor d_gate_up_f32 = Tensor::empty({rows, 2 * width}, DType::f32);
  backend.swiglu_backward(d_out, gate_up, d_gate_up);
  backend.swiglu_backward(to_f32(d_out), to_f32(gate_up), d_gate_up_f32);
  for (int64_t i = 0; i < d_gate_up.numel(); ++i) {
    const double expected = d_gate_up.data<double>()[i];
    ASSERT_NEAR(d_gate_up_f32.data<float>()[i], expected, 1e-5 * std::max(1.0, std::abs(expected))) << i;
  }
}

TEST(CpuSwiglu, RejectsWrongShapesAndDtypes) {
  CpuBackend backend;
  const Tensor gate_up = Tensor::zeros({3, 8}, DType::f32);
  Tensor out = Tensor::zeros({3, 4}, DType::f32);
  EXPECT_NO_THROW(backend.swiglu_forward(gate_up, out));
  const Tensor odd = Tensor::zeros({3, 7}, DType::f32);
  Tensor odd_out = Tensor::zeros({3, 3}, DType::f32);
  expect_rejects([&] { backend.swiglu_forward(odd, odd_out); }, "gate_up");
  Tensor wide_out = Tensor::zeros({3, 8}, DType::f32);
  expect_rejects([&] { backend.swiglu_forward(gate_up, wide_out); }, "out");
  Tensor out_f64 = Tensor::zeros({3, 4}, DType::f64);
  expect_rejects([&] { backend.swiglu_forward(gate_up, out_f64); }, "out");

  Tensor d_gate_up = Tensor::zeros({3, 8}, DType::f32);
  EXPECT_NO_THROW(backend.swiglu_backward(out, gate_up, d_gate_up));
  const Tensor short_d_out = Tensor::zeros({2, 4}, DType::f32);
  expect_rejects([&] { backend.swiglu_backward(short_d_out, gate_up, d_gate_up); }, "d_out");
  Tensor narrow_d_gate_up = Tensor::zeros({3, 4}, DType::f32);
  expect_rejects([&] { backend.swiglu_backward(out, gate_up, narrow_d_gate_up); }, "d_gate_up");
  const Tensor gate_up_i32 = Tensor::zeros({3, 8}, DType::i32);
  Tensor out_i32 = Tensor::zeros({3, 4}, DType::i32);
  EXPECT_THROW(backend.swiglu_forward(gate_up_i32, out_i32), std::invalid_argument);
}

}  // namespace
}  // namespace minimind
