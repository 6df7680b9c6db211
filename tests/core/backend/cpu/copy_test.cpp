// copy on the CPU backend (references: bit patterns worked out by hand: bf16 keeps the top 16 bits of a
// float, rounding the rest to nearest with ties to even; f16 is IEEE binary16; a double narrows to bf16 in
// one rounding, not through float; NaN stays NaN and infinities stay infinite; widening is exact).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "support/tensor_helpers.h"

namespace minimind {
namespace {

using testing::expect_rejects;
using testing::f64_tensor;
using testing::i32_tensor;
using testing::tensor_of_values;

std::vector<uint16_t> bits_of(const Tensor& t) {
  const uint16_t* data = static_cast<const uint16_t*>(t.raw());
  return std::vector<uint16_t>(data, data + t.numel());
}

TEST(CpuCopy, Float32ToBfloat16RoundsToNearestEven) {
  CpuBackend backend;
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor values = tensor_of_values<float>({7}, DType::f32,
                                                {1.0f + 0x1p-8f,      // tie: to even, 1.0 (0x3F80)
                                                 1.0f + 3 * 0x1p-8f,  // tie: to even, 1 + 2^-6 (0x3F82)
                                                 1.0f + 0x1p-8f + 0x1p-20f,  // above the tie: up (0x3F81)
                                                 -2.5f,                      // exact (0xC020)
                                                 inf, -inf, std::numeric_limits<float>::quiet_NaN()});
  Tensor narrow = backend.empty({7}, DType::bf16);
  backend.copy(values, narrow);
  const std::vector<uint16_t> bits = bits_of(narrow);
  EXPECT_EQ(bits[0], 0x3F80);
  EXPECT_EQ(bits[1], 0x3F82);
  EXPECT_EQ(bits[2], 0x3F81);
  EXPECT_EQ(bits[3], 0xC020);
  EXPECT_EQ(bits[4], 0x7F80);
  EXPECT_EQ(bits[5], 0xFF80);
  EXPECT_EQ(bits[6] & 0x7F80, 0x7F80);
  EXPECT_NE(bits[6] & 0x007F, 0);  // still a NaN

  // Back to f32 exactly: the bf16 bits are the top half of the float.
  Tensor wide = backend.empty({7}, DType::f32);
  backend.copy(narrow, wide);
  EXPECT_EQ(wide.data<float>()[0], 1.0f);
  EXPECT_EQ(wide.data<float>()[1], 1.0f + 0x1p-6f);
  EXPECT_EQ(wide.data<float>()[2], 1.0f + 0x1p-7f);
  EXPECT_EQ(wide.data<float>()[3], -2.5f);
  EXPECT_EQ(wide.data<float>()[4], inf);
  EXPECT_TRUE(std::isnan(wide.data<float>()[6]));
}

TEST(CpuCopy, Float64NarrowsInOneRounding) {
  CpuBackend backend;
  // 1 + 2^-8 + 2^-40 rounds to float as the tie 1 + 2^-8, which would then round to 1.0 in bf16; rounded
  // once it goes up to 1 + 2^-7.
  const Tensor values = f64_tensor({3}, {1.0 + 0x1p-8 + 0x1p-40, 1.0 / 3.0, 1e300});
  Tensor narrow = backend.empty({3}, DType::bf16);
  backend.copy(values, narrow);
  EXPECT_EQ(bits_of(narrow)[0], 0x3F81);
  EXPECT_EQ(bits_of(narrow)[1], 0x3EAB);  // 1/3 = 1.0101010101... x 2^-2: 0.0101010|1... rounds up
  EXPECT_EQ(bits_of(narrow)[2], 0x7F80);  // beyond bf16's range: infinity

  Tensor half = backend.empty({3}, DType::f16);
  backend.copy(values, half);
  EXPECT_EQ(bits_of(half)[1], 0x3555);  // 1/3 in binary16
  EXPECT_EQ(bits_of(half)[2], 0x7C00);

  Tensor single = backend.empty({3}, DType::f32);
  backend.copy(values, single);
  EXPECT_EQ(single.data<float>()[1], static_cast<float>(1.0 / 3.0));

  Tensor back = backend.empty({3}, DType::f64);
  backend.copy(half, back);
  EXPECT_EQ(back.data<double>()[1], 0x1.554p-2);  // 0x3555 exactly
}

TEST(CpuCopy, SameDtypeCopiesViewsAndIndices) {
  CpuBackend backend;
  const Tensor ids = i32_tensor({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor target = Tensor::zeros({3, 3}, DType::i32);
  Tensor rows = target.rows(1, 3);
  backend.copy(ids, rows);
  const std::vector<int32_t> expected = {0, 0, 0, 1, 2, 3, 4, 5, 6};
  for (int64_t i = 0; i < 9; ++i) EXPECT_EQ(target.data<int32_t>()[i], expected[i]) << i;
  backend.copy(target, target);  // the same memory: nothing to do
  EXPECT_EQ(target.data<int32_t>()[8], 6);
  Tensor flat = Tensor::zeros({6}, DType::i32);
  backend.copy(ids, flat);  // element counts match, shapes need not
  EXPECT_EQ(flat.data<int32_t>()[5], 6);
}

TEST(CpuCopy, RejectsMismatches) {
  CpuBackend backend;
  const Tensor ids = i32_tensor({3}, {1, 2, 3});
  Tensor floats = Tensor::zeros({3}, DType::f32);
  expect_rejects([&] { backend.copy(ids, floats); }, "dst");  // indices do not convert
  Tensor longer = Tensor::zeros({4}, DType::i32);
  EXPECT_THROW(backend.copy(ids, longer), std::invalid_argument);
  Tensor none;
  expect_rejects([&] { backend.copy(ids, none); }, "dst");
  expect_rejects([&] { backend.copy(Tensor(), floats); }, "src");
  // Converting in place would read what it has just written: an f32 view over the bytes of f64 values.
  Tensor doubles = Tensor::zeros({4}, DType::f64);
  auto alias = std::make_shared<Storage>(Device::cpu, doubles.bytes(), doubles.raw(), nullptr);
  Tensor floats_over_doubles(alias, 0, {4}, DType::f32);
  expect_rejects([&] { backend.copy(doubles, floats_over_doubles); }, "dst");
}

}  // namespace
}  // namespace minimind
