// Dtype conversions. References: hand-checked IEEE bit patterns, and a brute-force rounding reference that
// lists every finite bf16 / f16 value, finds the two neighbours of x and compares x with their exact midpoint
// in double (ties to the even bit pattern).
#include "tensor/convert.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace minimind {
namespace {

// All non-negative finite values of a 16-bit format, indexed by bit pattern (monotonic).
std::vector<double> finite_values(float (*widen)(uint16_t), uint16_t largest_finite) {
  std::vector<double> values;
  for (uint32_t bits = 0; bits <= largest_finite; ++bits)
    values.push_back(widen(static_cast<uint16_t>(bits)));
  return values;
}

// Correct rounding of x to the format, to nearest with ties to the even bit pattern.
uint16_t reference_round(double x, const std::vector<double>& values, double first_infinite_magnitude) {
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const uint16_t infinity =
      static_cast<uint16_t>(values.size());  // the pattern right after the largest finite
  const double magnitude = std::fabs(x);
  const double top_midpoint = (values.back() + first_infinite_magnitude) / 2;
  if (magnitude > top_midpoint || (magnitude == top_midpoint && (infinity & 1) == 0)) return sign | infinity;
  if (magnitude >= values.back()) return sign | static_cast<uint16_t>(values.size() - 1);
  // The largest value <= magnitude, and the next one up.
  const size_t below =
      static_cast<size_t>(std::upper_bound(values.begin(), values.end(), magnitude) - values.begin()) - 1;
  const double midpoint = (values[below] + values[below + 1]) / 2;  // exact: a few more bits than the format
  size_t chosen = below;
  if (magnitude > midpoint || (magnitude == midpoint && (below & 1) == 1)) chosen = below + 1;
  return sign | static_cast<uint16_t>(chosen);
}

const std::vector<double>& half_values() {
  static const std::vector<double> values = finite_values(f16_to_float, 0x7BFF);
  return values;
}
const std::vector<double>& bf16_values() {
  static const std::vector<double> values = finite_values(bf16_to_float, 0x7F7F);
  return values;
}
constexpr double kHalfOverflow = 65536.0;
const double kBf16Overflow = std::ldexp(1.0, 128);

bool is_half_nan(uint16_t bits) {
  return (bits & 0x7C00) == 0x7C00 && (bits & 0x03FF) != 0;
}
bool is_bf16_nan(uint16_t bits) {
  return (bits & 0x7F80) == 0x7F80 && (bits & 0x007F) != 0;
}

TEST(ConvertScalar, KnownBf16Patterns) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bf16(-2.0f), 0xC000);
  EXPECT_EQ(float_to_bf16(0.0f), 0x0000);
  EXPECT_EQ(float_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(float_to_bf16(-std::numeric_limits<float>::infinity()), 0xFF80);
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds up to infinity
  // Ties to even: 1 + 2^-8 lies halfway between 1 (0x3F80) and 1 + 2^-7 (0x3F81).
  EXPECT_EQ(float_to_bf16(1.0f + 0x1p-8f), 0x3F80);
  EXPECT_EQ(float_to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82);
  EXPECT_EQ(float_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81);
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(bf16_to_float(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_float(0x4049), 3.140625f);
  EXPECT_EQ(bf16_to_float(0x0001), std::ldexp(1.0f, -133));  // smallest bf16 subnormal
}

TEST(ConvertScalar, Bf16NanStaysNanEvenWithLowPayload) {
  EXPECT_TRUE(is_bf16_nan(float_to_bf16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(is_bf16_nan(float_to_bf16(std::bit_cast<float>(0x7F800001u))));  // would round to +inf
  EXPECT_TRUE(is_bf16_nan(float_to_bf16(std::bit_cast<float>(0xFF80FFFFu))));
  EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0xFF80FFFFu)) & 0x8000, 0x8000);
  EXPECT_TRUE(std::isnan(bf16_to_float(0x7FC0)));
}

TEST(ConvertScalar, KnownHalfPatterns) {
  EXPECT_EQ(float_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(float_to_f16(-2.0f), 0xC000);
  EXPECT_EQ(float_to_f16(0.5f), 0x3800);
  EXPECT_EQ(float_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(float_to_f16(65504.0f), 0x7BFF);  // the largest half
  EXPECT_EQ(float_to_f16(65519.99f), 0x7BFF);
  EXPECT_EQ(float_to_f16(65520.0f), 0x7C00);  // the tie above 65504 rounds to even: infinity
  EXPECT_EQ(float_to_f16(1e6f), 0x7C00);
  EXPECT_EQ(float_to_f16(-1e6f), 0xFC00);
  EXPECT_EQ(float_to_f16(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -14)), 0x0400);         // smallest normal
  EXPECT_EQ(float_to_f16(1023 * std::ldexp(1.0f, -24)), 0x03FF);  // largest subnormal
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -24)), 0x0001);         // smallest subnormal
  EXPECT_EQ(float_to_f16(-std::ldexp(1.0f, -24)), 0x8001);
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // tie between 0 and 2^-24: even
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -25) * 1.0000001f), 0x0001);
  EXPECT_EQ(float_to_f16(3 * std::ldexp(1.0f, -25)), 0x0002);  // tie between 1 and 2 steps: even
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -26)), 0x0000);
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -26)), 0x0400);  // rounds up into normals
  EXPECT_EQ(float_to_f16(1.0f + 0x1p-11f), 0x3C00);                                // tie: 1.0 is even
  EXPECT_EQ(float_to_f16(1.0f + 3 * 0x1p-11f), 0x3C02);
  EXPECT_EQ(float_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3C01);
  EXPECT_EQ(float_to_f16(std::numeric_limits<float>::denorm_min()), 0x0000);

  EXPECT_EQ(f16_to_float(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_float(0x7BFF), 65504.0f);
  EXPECT_EQ(f16_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(f16_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_float(0x83FF), -1023 * std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_float(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::signbit(f16_to_float(0x8000)));
}

TEST(ConvertScalar, HalfNanStaysNan) {
  EXPECT_TRUE(is_half_nan(float_to_f16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(is_half_nan(float_to_f16(std::bit_cast<float>(0x7F800001u))));  // payload only in low bits
  EXPECT_TRUE(is_half_nan(float_to_f16(-std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(f16_to_float(0x7E00)));
  EXPECT_TRUE(std::isnan(f16_to_float(0x7C01)));
}

TEST(ConvertScalar, EveryHalfAndBf16RoundTripsThroughFloat) {
  for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    const uint16_t pattern = static_cast<uint16_t>(bits);
    if (is_half_nan(pattern))
      EXPECT_TRUE(is_half_nan(float_to_f16(f16_to_float(pattern)))) << std::hex << bits;
    else
      ASSERT_EQ(float_to_f16(f16_to_float(pattern)), pattern) << std::hex << bits;
    if (is_bf16_nan(pattern))
      EXPECT_TRUE(is_bf16_nan(float_to_bf16(bf16_to_float(pattern)))) << std::hex << bits;
    else
      ASSERT_EQ(float_to_bf16(bf16_to_float(pattern)), pattern) << std::hex << bits;
  }
}

TEST(ConvertScalar, FloatNarrowingMatchesBruteForceRounding) {
  std::mt19937 random(1234);
  for (int i = 0; i < 200000; ++i) {
    const float x = std::bit_cast<float>(static_cast<uint32_t>(random()));
    if (std::isnan(x)) continue;
    ASSERT_EQ(float_to_bf16(x), reference_round(x, bf16_values(), kBf16Overflow)) << x;
    ASSERT_EQ(float_to_f16(x), reference_round(x, half_values(), kHalfOverflow)) << x;
  }
  // Random bits rarely land in half range: sweep it densely too, including every exact tie.
  for (size_t k = 0; k + 1 < half_values().size(); k += 7) {
    const double low = half_values()[k], high = half_values()[k + 1];
    for (const double x :
         {low, (low + high) / 2, std::nextafter(static_cast<float>((low + high) / 2), 0.0f) * 1.0,
          std::nextafter(static_cast<float>((low + high) / 2), 1e9f) * 1.0}) {
      const float value = static_cast<float>(x);
      ASSERT_EQ(float_to_f16(value), reference_round(value, half_values(), kHalfOverflow)) << value;
      ASSERT_EQ(float_to_f16(-value), reference_round(-value, half_values(), kHalfOverflow)) << value;
    }
  }
}

TEST(ConvertScalar, DoubleNarrowingRoundsOnce) {
  // Just above the tie 1 + 2^-11: through float it would become the tie and round down to 1.0.
  const double above_tie = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  EXPECT_EQ(float_to_f16(static_cast<float>(above_tie)), 0x3C00);
  EXPECT_EQ(double_to_f16(above_tie), 0x3C01);
  EXPECT_EQ(double_to_bf16(1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40)), 0x3F81);
  EXPECT_EQ(double_to_bf16(1.0 + std::ldexp(1.0, -8)), 0x3F80);
  EXPECT_EQ(double_to_f16(1e300), 0x7C00);
  EXPECT_EQ(double_to_bf16(-1e300), 0xFF80);
  EXPECT_EQ(double_to_f16(1e-300), 0x0000);
  EXPECT_TRUE(is_half_nan(double_to_f16(std::numeric_limits<double>::quiet_NaN())));
  EXPECT_TRUE(is_bf16_nan(double_to_bf16(std::numeric_limits<double>::quiet_NaN())));

  // Near every tie of both formats, nudged by amounts a float cannot hold.
  std::mt19937 random(99);
  std::uniform_int_distribution<int> nudge_exponent(-60, -25);
  for (const auto* values : {&half_values(), &bf16_values()}) {
    const bool half = values == &half_values();
    for (size_t k = 0; k + 1 < values->size(); k += 5) {
      const double midpoint = ((*values)[k] + (*values)[k + 1]) / 2;
      for (const double factor : {1.0, 1.0 + std::ldexp(1.0, nudge_exponent(random)),
                                  1.0 - std::ldexp(1.0, nudge_exponent(random))}) {
        const double x = midpoint * factor;
        if (half)
          ASSERT_EQ(double_to_f16(x), reference_round(x, *values, kHalfOverflow)) << x;
        else
          ASSERT_EQ(double_to_bf16(x), reference_round(x, *values, kBf16Overflow)) << x;
      }
    }
  }
}

TEST(ConvertDtype, ConvertsTensorsElementwise) {
  const std::vector<float> values = {1.0f, -2.5f, 65504.0f, 1e-8f, 3.14159265f, -0.0f};
  Tensor source = Tensor::empty({2, 3}, DType::f32);
  std::copy(values.begin(), values.end(), source.data<float>());

  const Tensor half = convert_dtype(source, DType::f16);
  const Tensor brain = convert_dtype(source, DType::bf16);
  const Tensor wide = convert_dtype(source, DType::f64);
  EXPECT_EQ(half.shape(), source.shape());
  EXPECT_EQ(half.dtype(), DType::f16);
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(static_cast<const uint16_t*>(half.raw())[i], float_to_f16(values[i])) << i;
    EXPECT_EQ(static_cast<const uint16_t*>(brain.raw())[i], float_to_bf16(values[i])) << i;
    EXPECT_EQ(wide.data<double>()[i], static_cast<double>(values[i])) << i;
  }
  // Widening back is exact; f64 -> f32 rounds like a cast.
  const Tensor back = convert_dtype(half, DType::f32);
  for (size_t i = 0; i < values.size(); ++i)
    EXPECT_EQ(back.data<float>()[i], f16_to_float(float_to_f16(values[i])));
  const Tensor narrow = convert_dtype(wide, DType::f32);
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(narrow.data<float>()[i], values[i]);
  const Tensor half_to_brain = convert_dtype(half, DType::bf16);
  EXPECT_EQ(static_cast<const uint16_t*>(half_to_brain.raw())[0], 0x3F80);
}

TEST(ConvertDtype, DoubleTensorsNarrowWithoutDoubleRounding) {
  Tensor source = Tensor::empty({1}, DType::f64);
  source.data<double>()[0] = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  EXPECT_EQ(static_cast<const uint16_t*>(convert_dtype(source, DType::f16).raw())[0], 0x3C01);
}

TEST(ConvertDtype, LargeTensorsMatchTheScalarConversion) {
  const int64_t count = 300000;  // above the parallel threshold
  Tensor source = Tensor::empty({count}, DType::f32);
  std::mt19937 random(5);
  std::normal_distribution<float> normal(0.0f, 100.0f);
  for (float& x : source.span<float>()) x = normal(random);
  const Tensor half = convert_dtype(source, DType::f16);
  const auto* bits = static_cast<const uint16_t*>(half.raw());
  for (int64_t i = 0; i < count; ++i) ASSERT_EQ(bits[i], float_to_f16(source.data<float>()[i])) << i;
}

TEST(ConvertDtype, SameDtypeCopiesAndOthersAreRefused) {
  Tensor ids = Tensor::empty({3}, DType::i32);
  ids.data<int32_t>()[0] = 7;
  ids.data<int32_t>()[1] = -1;
  ids.data<int32_t>()[2] = 1 << 30;
  const Tensor copy = convert_dtype(ids, DType::i32);
  EXPECT_FALSE(copy.same_storage(ids));
  EXPECT_EQ(copy.data<int32_t>()[2], 1 << 30);
  EXPECT_EQ(copy.data<int32_t>()[1], -1);

  EXPECT_THROW(convert_dtype(ids, DType::f32), std::invalid_argument);
  EXPECT_THROW(convert_dtype(Tensor::zeros({2}, DType::f32), DType::i32), std::invalid_argument);
  EXPECT_THROW(convert_dtype(Tensor(), DType::f32), std::invalid_argument);
  try {
    convert_dtype(ids, DType::bf16);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("i32[3] on cpu to bf16"), std::string::npos) << e.what();
  }
  const Tensor empty = convert_dtype(Tensor::empty({0, 4}, DType::f32), DType::bf16);
  EXPECT_EQ(empty.shape(), (Shape{0, 4}));
}

// convert_into writes into an existing tensor: a view of a larger buffer keeps its neighbours, and the
// element counts (not the shapes) must agree.
TEST(ConvertInto, WritesIntoAnExistingTensorOfTheSameElementCount) {
  Tensor source = Tensor::empty({2, 2}, DType::f64);
  const double values[] = {1.0 + 0x1p-8 + 0x1p-40, -2.5, 1e300, 0.0};
  std::copy(values, values + 4, source.data<double>());
  Tensor buffer = Tensor::zeros({6}, DType::bf16);
  Tensor middle = buffer.flat(1, {4});
  convert_into(source, middle);
  const auto* bits = static_cast<const uint16_t*>(buffer.raw());
  EXPECT_EQ(bits[0], 0);
  EXPECT_EQ(bits[1], double_to_bf16(values[0]));
  EXPECT_EQ(bits[1], 0x3F81);  // rounded once: 1 + 2^-7
  EXPECT_EQ(bits[2], 0xC020);
  EXPECT_EQ(bits[3], 0x7F80);
  EXPECT_EQ(bits[5], 0);

  Tensor same = Tensor::empty({4}, DType::f64);
  convert_into(source, same);
  EXPECT_EQ(same.data<double>()[1], -2.5);
  Tensor three = Tensor::empty({3}, DType::f32);
  EXPECT_THROW(convert_into(source, three), std::invalid_argument);
  Tensor ids = Tensor::empty({4}, DType::i32);
  EXPECT_THROW(convert_into(source, ids), std::invalid_argument);
  Tensor none;
  EXPECT_THROW(convert_into(source, none), std::invalid_argument);
}

}  // namespace
}  // namespace minimind
