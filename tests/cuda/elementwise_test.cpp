// The CUDA elementwise ops against closed forms computed on the host: add and scale bit for bit as f32
// arithmetic rounds them (bf16 elements computed in f32 and rounded once when stored), the sum of squares
// against a long-double sum (and identical on a second run), and dropout against the mask of dropout_mask.h
// computed on the host from the same seed, site and element index.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>

#include "backend/dropout_mask.h"
#include "cuda/gpu_test.h"
#include "tensor/convert.h"

namespace minimind {
namespace {

using testing::GpuTest;

// The compute dtypes of the GPU (the public ops refuse others there).
constexpr DType kElementDtypes[] = {DType::f32, DType::bf16};

// Uniform values in [-scale, scale], rounded once to `dtype`, on the host.
Tensor random_values(int64_t count, DType dtype, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-scale, scale);
  Tensor values = Tensor::empty({count}, DType::f64);
  for (double& x : values.span<double>()) x = uniform(rng);
  return convert_dtype(values, dtype);
}

// Element i of a host tensor of f32 or bf16, widened exactly to double.
double element(const Tensor& t, int64_t i) {
  return t.dtype() == DType::bf16 ? bf16_to_float(static_cast<const uint16_t*>(t.raw())[i])
                                  : static_cast<const float*>(t.raw())[i];
}

// op(a, b) computed in f32 and stored in `dtype` (f32 or bf16), as the device does; widened to double.
template <typename Op>
double in_f32(DType dtype, double a, double b, Op op) {
  const float result = op(static_cast<float>(a), static_cast<float>(b));
  return dtype == DType::bf16 ? bf16_to_float(float_to_bf16(result)) : result;
}

using CudaElementwise = GpuTest;

TEST_F(CudaElementwise, AddAndScaleRoundOnceInTheElementsComputeType) {
  constexpr int64_t kCount = 100'003;
  constexpr double kFactor = 0.3;
  for (DType dtype : kElementDtypes) {
    const Tensor y_host = random_values(kCount, dtype, 1, 4.0), x_host = random_values(kCount, dtype, 2, 4.0);
    Tensor y = upload(y_host);
    gpu().add(y, upload(x_host));
    const Tensor sum = gpu().to_host(y);
    gpu().scale(y, kFactor);
    const Tensor scaled = gpu().to_host(y);
    int64_t sum_wrong = 0, scaled_wrong = 0;
    for (int64_t i = 0; i < kCount; ++i) {
      const double expected_sum =
          in_f32(dtype, element(y_host, i), element(x_host, i), [](auto a, auto b) { return a + b; });
      sum_wrong += element(sum, i) != expected_sum;
      // The factor is rounded to f32 first, as the CPU rounds it to its compute type.
      const double expected_scaled =
          in_f32(dtype, expected_sum, kFactor, [](auto a, auto b) { return a * b; });
      scaled_wrong += element(scaled, i) != expected_scaled;
    }
    EXPECT_EQ(sum_wrong, 0) << "add in " << dtype_name(dtype);
    EXPECT_EQ(scaled_wrong, 0) << "scale in " << dtype_name(dtype);
  }
}

TEST_F(CudaElementwise, SumOfSquaresMatchesALongDoubleSumAndRepeatsExactly) {
  for (DType dtype : kElementDtypes) {
    for (int64_t count : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{8193}, int64_t{3'000'017}}) {
      const Tensor host = random_values(count, dtype, 3 + count, 2.0);
      long double reference = 0;
      for (int64_t i = 0; i < count; ++i)
        reference += static_cast<long double>(element(host, i)) * element(host, i);
      const Tensor x = upload(host);
      // Garbage in out first: the op overwrites it.
      Tensor out = upload(random_values(1, DType::f64, 99, 1e30));
      gpu().sum_squares(x, out);
      const double first = gpu().to_host(out).data<double>()[0];
      gpu().sum_squares(x, out);
      const double second = gpu().to_host(out).data<double>()[0];
      const std::string what = std::string(dtype_name(dtype)) + " x of " + std::to_string(count);
      // f32 groups of 8 squares, then f64: at most 8 roundings of 2^-24 relative before the f64 sum.
      EXPECT_NEAR(first, static_cast<double>(reference), 1e-6 * static_cast<double>(reference)) << what;
      if (count == 0) {
        EXPECT_EQ(first, 0.0) << what;
      }
      EXPECT_EQ(std::memcmp(&first, &second, sizeof(double)), 0)
          << what << ": " << first << " then " << second;
    }
  }
}

TEST_F(CudaElementwise, DropoutKeepsExactlyTheMaskOfTheSeedOnTheDevice) {
  constexpr int64_t kCount = 10'007;
  constexpr double kProbability = 0.3;
  constexpr uint64_t kSite = 42;
  // A seed whose words have their top bits set: they are read as unsigned.
  Tensor seed_host = Tensor::empty({2}, DType::i32);
  seed_host.data<int32_t>()[0] = -123456789;
  seed_host.data<int32_t>()[1] = -987654321;
  const Tensor step_seed = upload(seed_host);
  const uint64_t site_seed = dropout_site_seed(
      dropout_step_seed(static_cast<uint32_t>(-123456789), static_cast<uint32_t>(-987654321)), kSite);
  const uint32_t threshold = dropout_threshold(kProbability);
  const double keep_scale = 1.0 / (1.0 - kProbability);

  for (DType dtype : kElementDtypes) {
    const Tensor host = random_values(kCount, dtype, 5, 3.0);
    Tensor x = upload(host);
    gpu().dropout(x, Dropout{kProbability, step_seed, kSite});
    const Tensor result = gpu().to_host(x);
    int64_t wrong = 0, kept = 0;
    for (int64_t i = 0; i < kCount; ++i) {
      const bool keep = dropout_keep(site_seed, static_cast<uint64_t>(i), threshold);
      kept += keep;
      const double expected =
          keep ? in_f32(dtype, element(host, i), keep_scale, [](auto a, auto b) { return a * b; }) : 0.0;
      wrong += element(result, i) != expected;
    }
    EXPECT_EQ(wrong, 0) << "dropout in " << dtype_name(dtype);
    EXPECT_NEAR(static_cast<double>(kept) / kCount, 1 - kProbability, 0.03);

    // Inactive dropout leaves x as it was.
    Tensor untouched = upload(host);
    gpu().dropout(untouched, Dropout{0.0, step_seed, kSite});
    EXPECT_TRUE(testing::same_bytes(gpu().to_host(untouched), host)) << dtype_name(dtype);
  }
}

}  // namespace
}  // namespace minimind
