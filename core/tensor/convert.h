// Exact conversions between the floating dtypes: float <-> bf16 and float <-> IEEE half (f16), each rounding
// to nearest even, keeping NaN a NaN and infinities infinite; double -> bf16 / f16 round once (not through
// float), so no double rounding. convert_dtype applies them to whole host tensors.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

#include "tensor/tensor.h"

namespace minimind {

// bf16 is the upper half of a float: widening is a shift, narrowing rounds the dropped 16 bits to nearest
// even.
inline float bf16_to_float(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

inline uint16_t float_to_bf16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  // A NaN whose payload sits only in the low 16 bits would round to an infinity: keep it a (quiet) NaN.
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  // Adding 0x7FFF plus the lowest kept bit rounds to nearest with ties to even; a carry out of the mantissa
  // correctly bumps the exponent (and the largest floats round to infinity).
  const uint32_t rounding_bias = 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding_bias) >> 16);
}

// IEEE 754 binary16: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits; subnormals step by 2^-24.
inline float f16_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1Fu;
  const uint32_t mantissa = bits & 0x3FFu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24 is exact in float.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));  // inf or NaN
  return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));  // rebias 15 -> 127
}

inline uint16_t float_to_f16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude >= 0x7F800000u) {  // inf stays inf; NaN stays a quiet NaN with the top payload bits
    if (magnitude == 0x7F800000u) return sign | 0x7C00u;
    return static_cast<uint16_t>(sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu));
  }
  // 65520 is halfway between the largest half (65504, odd mantissa) and 65536: the tie and above go to inf.
  if (magnitude >= 0x477FF000u) return sign | 0x7C00u;
  if (magnitude < 0x38800000u) {
    // Below the smallest normal half (2^-14): the result is a subnormal count of 2^-24 steps.
    const uint32_t float_exponent = magnitude >> 23;  // biased; 0 for float zeros and subnormals
    const uint32_t shift = 126u - float_exponent;     // significand * 2^(e-150) / 2^-24
    if (shift > 24) return sign;                      // below half of the smallest subnormal: rounds to 0
    const uint32_t significand = (magnitude & 0x7FFFFFu) | 0x800000u;
    uint32_t steps = significand >> shift;
    const uint32_t remainder = significand & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1u);
    if (remainder > half || (remainder == half && (steps & 1u))) ++steps;  // may become the smallest normal
    return static_cast<uint16_t>(sign | steps);
  }
  // Normal: rebias the exponent (127 -> 15) and round the dropped 13 mantissa bits to nearest even.
  const uint32_t rebiased = magnitude - 0x38000000u;
  return static_cast<uint16_t>(sign | ((rebiased + 0xFFFu + ((rebiased >> 13) & 1u)) >> 13));
}

// Rounds a double to float "to odd": truncate toward zero, then set the lowest mantissa bit if anything was
// dropped. Rounding that float to nearest even in a format with at least two fewer bits of precision gives
// the same result as rounding the double directly, which is what makes the narrowing below exact.
inline float double_to_float_round_to_odd(double value) {
  if (std::isnan(value)) return static_cast<float>(value);
  float nearest = static_cast<float>(value);
  if (static_cast<double>(nearest) == value) return nearest;
  if (std::fabs(static_cast<double>(nearest)) > std::fabs(value)) nearest = std::nextafter(nearest, 0.0f);
  return std::bit_cast<float>(std::bit_cast<uint32_t>(nearest) | 1u);
}

inline uint16_t double_to_bf16(double value) {
  return float_to_bf16(double_to_float_round_to_odd(value));
}
inline uint16_t double_to_f16(double value) {
  return float_to_f16(double_to_float_round_to_odd(value));
}

// A new host tensor of the same shape holding `t` in dtype `to`. Supported: any pair among f32, f64, bf16
// and f16 (rounding to nearest even), and a plain copy when `to` equals t's dtype. Throws
// std::invalid_argument for other pairs and for undefined or device tensors.
Tensor convert_dtype(const Tensor& t, DType to);

// The same into an existing host tensor `target` of the same element count (its dtype is the one converted
// to); the same dtype copies. `source` and `target` may be the same memory only when their dtypes match.
void convert_into(const Tensor& source, Tensor& target);

}  // namespace minimind
