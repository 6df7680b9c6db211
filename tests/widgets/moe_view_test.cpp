// The MoE view shows the pushed loads: bar heights of the chosen layer, imbalance max/mean computed by hand,
// a heatmap whose last column is the last step and whose width stays bounded over many steps (older steps
// averaged), the aux loss, and a note instead of charts for a dense model (offscreen platform).
#include "moe_view.h"

#include <gtest/gtest.h>

#include <QBarSet>
#include <QFile>
#include <QLineSeries>
#include <QPushButton>
#include <QSpinBox>
#include <QTemporaryDir>

#include "heatmap_widget.h"
#include "metric_chart.h"

namespace minimind {
namespace {

ModelConfig moe_config(int layers = 2, int experts = 4) {
  ModelConfig config;
  config.use_moe = true;
  config.num_hidden_layers = layers;
  config.n_routed_experts = experts;
  return config;
}

// Two layers of four experts; every row sums to 1.
MoeLoad known_load(int64_t step) {
  MoeLoad load;
  load.step = step;
  load.expert_fraction = {{0.1, 0.2, 0.3, 0.4}, {0.25, 0.25, 0.25, 0.25}};
  return load;
}

// A load that changes with the step, rows summing to 1.
MoeLoad varying_load(int64_t step) {
  MoeLoad load;
  load.step = step;
  const double a = 0.1 + 0.3 * double(step % 7) / 6.0;  // expert 0's share, 0.1 .. 0.4
  load.expert_fraction = {{a, 0.3, 0.3, 0.4 - a}, {0.4, 0.3, 0.2, 0.1}};
  return load;
}

TEST(MoeView, BarsShowTheChosenLayersShares) {
  MoeView view;
  view.set_config(moe_config());
  view.add(known_load(5));
  view.flush();
  QBarSet* bars = view.bar_set();
  ASSERT_EQ(bars->count(), 4);
  for (int e = 0; e < 4; ++e) EXPECT_DOUBLE_EQ(bars->at(e), 0.1 * (e + 1)) << e;
  view.layer_box()->setValue(1);
  ASSERT_EQ(bars->count(), 4);
  for (int e = 0; e < 4; ++e) EXPECT_DOUBLE_EQ(bars->at(e), 0.25) << e;
  EXPECT_EQ(view.layer_box()->maximum(), 1);
}

TEST(MoeView, ImbalanceIsMaxOverMean) {
  MoeView view;
  view.set_config(moe_config());
  view.add(known_load(9));
  view.flush();
  // Layer 0: max 0.4, mean (0.1 + 0.2 + 0.3 + 0.4) / 4 = 0.25 -> 1.6. Layer 1 balanced -> 1.
  ASSERT_EQ(view.last_imbalance().size(), 2u);
  EXPECT_DOUBLE_EQ(view.last_imbalance()[0], 1.6);
  EXPECT_DOUBLE_EQ(view.last_imbalance()[1], 1.0);
  EXPECT_TRUE(view.imbalance_text().contains("layer 0: 1.600")) << view.imbalance_text().toStdString();
  EXPECT_TRUE(view.imbalance_text().contains("layer 1: 1.000"));
  EXPECT_TRUE(view.imbalance_text().contains("step 9"));
  const auto& layer0 = view.imbalance_chart()->raw_points(MoeView::layer_series(0));
  ASSERT_EQ(layer0.size(), 1u);
  EXPECT_EQ(layer0[0], QPointF(9, 1.6));
  EXPECT_DOUBLE_EQ(MoeView::imbalance({0.0, 0.0, 1.0, 0.0}), 4.0);  // one expert takes all: E
}

TEST(MoeView, HeatmapLastColumnIsTheLastLoadAndOlderColumnsTheSteps) {
  MoeView view;
  view.set_config(moe_config());
  for (int step = 0; step < 10; ++step) view.add(varying_load(step));
  view.flush();
  HeatmapWidget* heatmap = view.load_heatmap();
  ASSERT_EQ(heatmap->rows(), 4);   // experts
  ASSERT_EQ(heatmap->cols(), 10);  // few steps: one column each
  const MoeLoad last = varying_load(9);
  for (int e = 0; e < 4; ++e) {
    EXPECT_FLOAT_EQ(heatmap->value_at(e, 9), float(last.expert_fraction[0][e]));
    EXPECT_FLOAT_EQ(heatmap->value_at(e, 3), float(varying_load(3).expert_fraction[0][e]));
  }
  EXPECT_EQ(heatmap->col_label(9), "9");
  view.layer_box()->setValue(1);
  EXPECT_FLOAT_EQ(heatmap->value_at(0, 9), 0.4f);
}

TEST(MoeView, TenThousandStepsKeepTheHeatmapBoundedAndAveraged) {
  constexpr int n = 10000;
  MoeView view;
  view.set_config(moe_config());
  for (int step = 0; step < n; ++step) view.add(varying_load(step));
  view.flush();
  HeatmapWidget* heatmap = view.load_heatmap();
  EXPECT_LE(heatmap->cols(), MoeView::kMaxHeatmapColumns);
  EXPECT_GE(heatmap->cols(), MoeView::kMaxHeatmapColumns / 2);
  const int last = heatmap->cols() - 1;
  EXPECT_EQ(heatmap->col_label(last), QString::number(n - 1));
  for (int e = 0; e < 4; ++e)
    EXPECT_FLOAT_EQ(heatmap->value_at(e, last), float(varying_load(n - 1).expert_fraction[0][e]));

  // 9999 older steps in buckets of a power of two: bucket b covers steps [b * k, (b + 1) * k) and shows their
  // mean, computed here by hand.
  const int64_t k = view.steps_per_column();
  EXPECT_EQ(k, 32);  // 9999 older steps do not fit in 399 columns of 16, so columns hold 32
  EXPECT_EQ(last, int((n - 1 + k - 1) / k));
  for (int column : {0, 1, 100, last - 1}) {
    const int64_t first = column * k, end = std::min<int64_t>((column + 1) * k, n - 1);
    EXPECT_EQ(heatmap->col_label(column), QString("%1-%2").arg(first).arg(end - 1));
    double sum = 0;
    for (int64_t s = first; s < end; ++s) sum += varying_load(s).expert_fraction[0][0];
    EXPECT_NEAR(heatmap->value_at(0, column), sum / double(end - first), 1e-6) << column;
  }
}

TEST(MoeView, AuxLossIsCharted) {
  MoeView view;
  view.set_config(moe_config());
  view.add_aux_loss(3, 0.125);
  StepMetrics metrics;
  metrics.step = 4;
  metrics.aux_loss = 0.25;
  view.add(metrics);
  view.flush();
  const auto& points = view.aux_loss_chart()->raw_points(MoeView::kAuxLoss);
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0], QPointF(3, 0.125));
  EXPECT_EQ(points[1], QPointF(4, 0.25));
  EXPECT_EQ(view.aux_loss_chart()->series(MoeView::kAuxLoss)->count(), 2);
}

TEST(MoeView, DenseConfigHidesTheChartsAndShowsTheNote) {
  MoeView view;
  view.set_config(moe_config());
  EXPECT_TRUE(view.charts_shown());
  EXPECT_TRUE(view.note_text().isEmpty());
  ModelConfig dense;
  dense.use_moe = false;
  view.set_config(dense);
  EXPECT_FALSE(view.charts_shown());
  EXPECT_EQ(view.note_text(), "This model is dense (use_moe is off): no experts to show");
  view.set_config(moe_config());
  EXPECT_TRUE(view.charts_shown());
  EXPECT_TRUE(view.note_text().isEmpty());
}

TEST(MoeView, RefusesAMalformedLoadAndKeepsTheLastOne) {
  MoeView view;
  view.set_config(moe_config());
  view.add(known_load(1));
  MoeLoad bad = known_load(2);
  bad.expert_fraction[1].pop_back();
  view.add(bad);
  view.flush();
  EXPECT_TRUE(view.error_text().contains("layer 1 has 3 experts")) << view.error_text().toStdString();
  EXPECT_EQ(view.last_load()->step, 1);
  EXPECT_DOUBLE_EQ(view.bar_set()->at(3), 0.4);
  view.add(known_load(3));
  EXPECT_TRUE(view.error_text().isEmpty());
}

TEST(MoeView, EveryChartExportsPngAndCsv) {
  MoeView view;
  view.set_config(moe_config());
  view.add(known_load(7));
  view.add_aux_loss(7, 0.01);
  view.flush();
  view.resize(1000, 800);
  EXPECT_EQ(view.findChildren<QPushButton*>("export_png").size(), 4);
  EXPECT_EQ(view.findChildren<QPushButton*>("export_csv").size(), 4);
  QTemporaryDir dir;
  ASSERT_TRUE(view.load_heatmap()->export_csv(dir.filePath("history.csv")));
  ASSERT_TRUE(view.load_heatmap()->export_png(dir.filePath("history.png")));
  ASSERT_TRUE(view.imbalance_chart()->export_csv(dir.filePath("imbalance.csv")));
}

}  // namespace
}  // namespace minimind
