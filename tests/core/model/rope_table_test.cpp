// RoPE tables against closed forms: theta_i = base^(-2i/d) and cos/sin of p theta_i; the YaRN scales against
// the formula evaluated independently here in double.
#include "model/rope_table.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace minimind {
namespace {

ModelConfig rope_config() {
  ModelConfig c;
  c.hidden_size = 64;
  c.num_attention_heads = 4;  // head_dim 16
  c.num_key_value_heads = 2;
  c.rope_theta = 10000.0;
  c.max_position_embeddings = 256;
  return c;
}

TEST(RopeTable, FrequenciesAndTablesFollowTheClosedForm) {
  const ModelConfig c = rope_config();
  const std::vector<double> freqs = rope_frequencies(c, DType::f64);
  ASSERT_EQ(freqs.size(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(freqs[i], std::pow(10000.0, -2.0 * i / 16), 1e-15);
  const RopeTables tables = make_rope_tables(c, DType::f64);
  ASSERT_EQ(tables.cos.shape(), (Shape{256, 16}));
  for (int p : {0, 1, 17, 255})
    for (int i = 0; i < 8; ++i) {
      const double angle = p * std::pow(10000.0, -2.0 * i / 16);
      EXPECT_NEAR(tables.cos.data<double>()[p * 16 + i], std::cos(angle), 1e-14);
      EXPECT_NEAR(tables.cos.data<double>()[p * 16 + i + 8], std::cos(angle), 1e-14);
      EXPECT_NEAR(tables.sin.data<double>()[p * 16 + i], std::sin(angle), 1e-14);
      EXPECT_NEAR(tables.sin.data<double>()[p * 16 + i + 8], std::sin(angle), 1e-14);
    }
}

TEST(RopeTable, YarnScalesEachDimensionByTheSeedFormula) {
  ModelConfig c = rope_config();
  c.inference_rope_scaling = true;
  c.rope_scaling.original_max_position_embeddings = 64;
  ASSERT_TRUE(c.yarn_active());
  const std::vector<double> scaled = rope_frequencies(c, DType::f64);
  const std::vector<double> plain = rope_frequencies_unscaled(c, DType::f64);
  // corr_dim: the first dimension whose wavelength exceeds the original context.
  int corr_dim = 8;
  for (int i = 0; i < 8; ++i)
    if (2 * std::numbers::pi / plain[i] > 64) {
      corr_dim = i;
      break;
    }
  ASSERT_GT(corr_dim, 0);
  ASSERT_LT(corr_dim, 8);  // both branches are exercised
  for (int i = 0; i < 8; ++i) {
    const double beta = 1.0 + (4.0 - 1.0) * i / 7.0;
    const double scale = i < corr_dim ? (beta * 4 - beta + 1) / (beta * 4) : 0.25;
    EXPECT_NEAR(scaled[i], plain[i] * scale, 1e-15) << i;
  }
  // Not applied when the table is no longer than the original context.
  c.max_position_embeddings = 64;
  EXPECT_FALSE(c.yarn_active());
  EXPECT_EQ(rope_frequencies(c, DType::f64), plain);
}

TEST(RopeTable, Float32FollowsSinglePrecisionAngles) {
  const ModelConfig c = rope_config();
  const RopeTables t32 = make_rope_tables(c, DType::f32), t64 = make_rope_tables(c, DType::f64);
  double worst = 0;
  for (int64_t i = 0; i < t32.cos.numel(); ++i)
    worst = std::max(worst, std::abs(t32.cos.data<float>()[i] - t64.cos.data<double>()[i]));
  EXPECT_LT(worst, 1e-4);  // float32 angles at positions up to 255
  EXPECT_GT(worst, 0.0);
}

}  // namespace
}  // namespace minimind
