// The RoPE view draws what core computes: frequencies equal rope_frequencies (YaRN-scaled beside the
// original when YaRN is on), wavelengths are 2 pi / theta, heatmap cells are p theta_i mod 2 pi, and the
// decay curve equals its closed form mean_i cos(d theta_i), itself checked against an explicit rotation of
// random vectors with the core's cos/sin tables (offscreen platform).
#include "rope_view.h"

#include <gtest/gtest.h>

#include <QFile>
#include <QPushButton>
#include <QSpinBox>
#include <QTemporaryDir>
#include <cmath>
#include <numbers>
#include <random>

#include "heatmap_widget.h"
#include "metric_chart.h"
#include "model/rope_table.h"

namespace minimind {
namespace {

constexpr double kTwoPi = 2 * std::numbers::pi;

ModelConfig small_config() {
  ModelConfig config;  // hidden 512, 8 heads: head_dim 64, 32 pairs; context 32768; rope_theta 1e6
  return config;
}

ModelConfig yarn_config() {
  ModelConfig config = small_config();
  config.inference_rope_scaling = true;  // context 32768 > original 2048: YaRN active
  return config;
}

std::vector<double> ys(const std::vector<QPointF>& points) {
  std::vector<double> out;
  for (const QPointF& p : points) out.push_back(p.y());
  return out;
}

double closed_form_decay(const std::vector<double>& frequencies, double distance) {
  double sum = 0;
  for (double f : frequencies) sum += std::cos(distance * f);
  return sum / double(frequencies.size());
}

// The decay series' value at a whole distance (every distance is present for contexts up to 32768).
double decay_at(const RopeView& view, const QString& series, int distance) {
  const QPointF p = view.decay_chart()->raw_points(series).at(size_t(distance));
  EXPECT_DOUBLE_EQ(p.x(), distance);
  return p.y();
}

TEST(RopeView, PlottedFrequenciesEqualCore) {
  RopeView view;
  const ModelConfig config = small_config();
  view.set_config(config);
  const std::vector<double> expected = rope_frequencies(config, DType::f64);
  ASSERT_EQ(expected.size(), 32u);
  const auto& points = view.frequency_chart()->raw_points(RopeView::kFrequency);
  ASSERT_EQ(points.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_DOUBLE_EQ(points[i].x(), double(i));
    EXPECT_DOUBLE_EQ(points[i].y(), expected[i]);
  }
  EXPECT_DOUBLE_EQ(points[0].y(), 1.0);                           // theta^0
  EXPECT_NEAR(points[16].y(), std::pow(1e6, -32.0 / 64), 1e-15);  // theta^(-2i/d), i = 16
  EXPECT_EQ(view.frequency_chart()->series_names(), QStringList{RopeView::kFrequency});  // one series
  EXPECT_TRUE(view.frequency_chart()->log_scale());

  const auto& wavelengths = view.wavelength_chart()->raw_points(RopeView::kFrequency);
  ASSERT_EQ(wavelengths.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_DOUBLE_EQ(wavelengths[i].y(), kTwoPi / expected[i]);
  for (const QPointF& p : view.wavelength_chart()->raw_points(RopeView::kContext)) EXPECT_EQ(p.y(), 32768);
  EXPECT_TRUE(view.wavelength_chart()->raw_points(RopeView::kOriginalContext).empty());
  EXPECT_TRUE(view.error_text().isEmpty());
  EXPECT_TRUE(view.summary_text().contains("32 dimension pairs"));
}

TEST(RopeView, YarnShowsBothSeriesDifferingWhereScaled) {
  RopeView view;
  const ModelConfig config = yarn_config();
  view.set_config(config);
  const std::vector<double> original = ys(view.frequency_chart()->raw_points(RopeView::kOriginal));
  const std::vector<double> scaled = ys(view.frequency_chart()->raw_points(RopeView::kScaled));
  EXPECT_EQ(original, rope_frequencies_unscaled(config, DType::f64));
  EXPECT_EQ(scaled, rope_frequencies(config, DType::f64));
  EXPECT_TRUE(view.frequency_chart()->raw_points(RopeView::kFrequency).empty());
  // Pair 0 (beta = beta_slow = 1): scale (1 * 4 - 1 + 1) / (1 * 4) = 1, unchanged. The last pair's wavelength
  // exceeds the original 2048 positions, so it is divided by the factor 4.
  EXPECT_DOUBLE_EQ(scaled[0], original[0]);
  EXPECT_NEAR(scaled[31], original[31] / 4, 1e-15 * original[31]);
  EXPECT_LT(scaled[31], original[31]);
  ASSERT_EQ(view.wavelength_chart()->raw_points(RopeView::kOriginalContext).size(), 2u);
  EXPECT_EQ(view.wavelength_chart()->raw_points(RopeView::kOriginalContext)[0].y(), 2048);
  EXPECT_DOUBLE_EQ(view.wavelength_chart()->raw_points(RopeView::kScaled)[31].y(), kTwoPi / scaled[31]);
  EXPECT_TRUE(view.summary_text().contains("YaRN on"));

  view.set_config(small_config());  // YaRN off again: back to one series, no original context line
  EXPECT_EQ(view.frequency_chart()->series_names(), QStringList{RopeView::kFrequency});
  EXPECT_FALSE(view.wavelength_chart()->series_names().contains(RopeView::kOriginalContext));
}

TEST(RopeView, HeatmapCellIsTheRotationAngle) {
  RopeView view;
  const ModelConfig config = small_config();
  view.set_config(config);
  const std::vector<double> theta = rope_frequencies(config, DType::f64);
  HeatmapWidget* heatmap = view.angle_heatmap();
  ASSERT_EQ(heatmap->rows(), RopeView::kDefaultHeatmapPositions);
  ASSERT_EQ(heatmap->cols(), 32);
  for (auto [p, i] : {std::pair{0, 0}, {1, 0}, {7, 0}, {100, 3}, {511, 31}, {300, 16}}) {
    const double angle = std::fmod(p * theta[i], kTwoPi);
    EXPECT_NEAR(heatmap->value_at(p, i), angle, 1e-5) << "position " << p << " pair " << i;
  }
  EXPECT_NEAR(heatmap->value_at(7, 0), 7 - kTwoPi, 1e-6);  // pair 0 turns 1 radian per position
  EXPECT_DOUBLE_EQ(heatmap->range_high(), kTwoPi);

  view.positions_box()->setValue(100);
  EXPECT_EQ(heatmap->rows(), 100);
  ModelConfig short_context = config;
  short_context.max_position_embeddings = 64;
  view.set_config(short_context);
  EXPECT_EQ(view.positions_box()->maximum(), 64);
  EXPECT_EQ(heatmap->rows(), 64);
}

TEST(RopeView, DecayMatchesClosedFormAndAnExplicitRotation) {
  RopeView view;
  const ModelConfig config = small_config();
  view.set_config(config);
  const std::vector<double> theta = rope_frequencies(config, DType::f64);
  ASSERT_EQ(view.decay_chart()->raw_points(RopeView::kExpectedDecay).size(), 32769u);  // d = 0..32768
  EXPECT_DOUBLE_EQ(decay_at(view, RopeView::kExpectedDecay, 0), 1.0);
  for (int d : {1, 2, 10, 100, 1000, 32768})
    EXPECT_NEAR(decay_at(view, RopeView::kExpectedDecay, d), closed_form_decay(theta, d), 1e-12) << d;

  // The closed form is the expectation of q . R(d) q / E[q . q]: rotate 2000 random q with the core's
  // cos/sin tables (rotate-half layout) and compare; the sampled curve of the view must be as close.
  const int64_t dim = config.head_dim(), half = dim / 2;
  const RopeTables tables = make_rope_tables(config, DType::f64, 1001);
  std::mt19937_64 generator(7);
  std::normal_distribution<double> normal;
  std::vector<std::vector<double>> qs(2000, std::vector<double>(size_t(dim)));
  for (auto& q : qs)
    for (double& x : q) x = normal(generator);
  for (int d : {1, 10, 100, 1000}) {
    const double* cos = tables.cos.data<double>() + d * dim;
    const double* sin = tables.sin.data<double>() + d * dim;
    double dot = 0, norm = 0;
    for (const auto& q : qs) {
      for (int64_t i = 0; i < half; ++i) {
        const double a = q[i], b = q[i + half];
        dot += a * (a * cos[i] - b * sin[i]) + b * (b * cos[i + half] + a * sin[i + half]);
        norm += a * a + b * b;
      }
    }
    const double expected = closed_form_decay(theta, d);
    EXPECT_NEAR(dot / norm, expected, 0.05) << d;
    EXPECT_NEAR(decay_at(view, RopeView::kSampledDecay, d), expected, 0.05) << d;
  }
}

TEST(RopeView, ChangingRopeThetaChangesThePlot) {
  RopeView view;
  ModelConfig config = small_config();
  view.set_config(config);
  const std::vector<double> before = ys(view.frequency_chart()->raw_points(RopeView::kFrequency));
  const double decay_before = decay_at(view, RopeView::kExpectedDecay, 50);
  config.rope_theta = 1e4;
  view.set_config(config);
  const std::vector<double> after = ys(view.frequency_chart()->raw_points(RopeView::kFrequency));
  EXPECT_EQ(after, rope_frequencies(config, DType::f64));
  EXPECT_NE(after[16], before[16]);
  EXPECT_DOUBLE_EQ(after[16], 0.01);  // 1e4^(-1/2)
  EXPECT_NE(decay_at(view, RopeView::kExpectedDecay, 50), decay_before);
  EXPECT_NEAR(view.angle_heatmap()->value_at(3, 16), 0.03, 1e-7);
}

TEST(RopeView, RefusesABadConfigAndKeepsThePreviousCharts) {
  RopeView view;
  view.set_config(small_config());
  ModelConfig bad = small_config();
  bad.num_attention_heads = 3;  // does not divide 512
  view.set_config(bad);
  EXPECT_TRUE(view.error_text().contains("num_attention_heads")) << view.error_text().toStdString();
  EXPECT_EQ(view.frequency_chart()->raw_points(RopeView::kFrequency).size(), 32u);
  view.set_config(small_config());
  EXPECT_TRUE(view.error_text().isEmpty());
}

TEST(RopeView, ShowsTheRunningModelsTable) {
  RopeView view;
  const ModelConfig config = yarn_config();
  view.set_config(config);
  RopeTable table;
  table.step = 40;
  table.head_dim = 64;
  table.max_positions = 32768;
  table.base_frequencies = rope_frequencies_unscaled(config, DType::f32);
  table.frequencies = rope_frequencies(config, DType::f32);
  view.set_rope_table(table);
  EXPECT_EQ(ys(view.frequency_chart()->raw_points(RopeView::kScaled)), table.frequencies);
  EXPECT_EQ(ys(view.frequency_chart()->raw_points(RopeView::kOriginal)), table.base_frequencies);
  EXPECT_TRUE(view.summary_text().contains("step 40"));

  table.frequencies.pop_back();  // malformed: refused with the reason, the charts stay
  view.set_rope_table(table);
  EXPECT_TRUE(view.error_text().contains("expected 32 frequencies")) << view.error_text().toStdString();
  EXPECT_EQ(view.frequency_chart()->raw_points(RopeView::kScaled).size(), 32u);
}

TEST(RopeView, EveryChartExportsPngAndCsv) {
  RopeView view;
  view.set_config(small_config());
  view.resize(1000, 800);
  EXPECT_EQ(view.findChildren<QPushButton*>("export_png").size(), 4);
  EXPECT_EQ(view.findChildren<QPushButton*>("export_csv").size(), 4);
  QTemporaryDir dir;
  const QString csv = dir.filePath("frequencies.csv");
  ASSERT_TRUE(view.frequency_chart()->export_csv(csv));
  QFile file(csv);
  ASSERT_TRUE(file.open(QIODevice::ReadOnly | QIODevice::Text));
  EXPECT_EQ(file.readLine().trimmed(), "series,dimension pair i,value");
  EXPECT_EQ(file.readLine().trimmed(), "frequency,0,1");
  ASSERT_TRUE(view.angle_heatmap()->export_csv(dir.filePath("angles.csv")));
  ASSERT_TRUE(view.decay_chart()->export_png(dir.filePath("decay.png")));
  ASSERT_TRUE(view.angle_heatmap()->export_png(dir.filePath("angles.png")));
}

}  // namespace
}  // namespace minimind
