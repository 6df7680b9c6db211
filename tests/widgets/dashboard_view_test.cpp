// The dashboard and its charts show what is pushed into them: buffered until flush, decimated for display
// with every raw point kept for export, smoothed, on a log axis on demand, with a planned LR curve and an
// overlay of a previous run's metrics.csv (offscreen platform).
#include "dashboard_view.h"

#include <gtest/gtest.h>

#include <QCheckBox>
#include <QDir>
#include <QFile>
#include <QImage>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QPushButton>
#include <QSlider>
#include <QTemporaryDir>
#include <QTextStream>
#include <QValueAxis>
#include <cmath>

namespace minimind {
namespace {

StepMetrics metrics_at(int64_t step) {
  StepMetrics m;
  m.step = step;
  m.loss = 5.0 / (1.0 + 0.01 * double(step)) + 0.1 * std::sin(double(step));  // noisy and positive
  m.learning_rate = 1e-3;
  m.grad_norm = 1.0;
  m.tokens_per_s = 1000;
  return m;
}

int count_lines(const QString& path) {
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly | QIODevice::Text)) return -1;
  int n = 0;
  while (!file.atEnd()) {
    file.readLine();
    ++n;
  }
  return n;
}

TEST(DashboardView, BuffersUntilFlushThenShowsEveryPointWhenFew) {
  DashboardView view;
  for (int i = 0; i < 50; ++i) view.add(metrics_at(i));
  EXPECT_EQ(view.loss_chart()->series(DashboardView::kTrain)->count(), 0);  // not drawn per point
  view.flush();
  QLineSeries* loss = view.loss_chart()->series(DashboardView::kTrain);
  ASSERT_EQ(loss->count(), 50);
  EXPECT_DOUBLE_EQ(loss->at(49).x(), 49);
  EXPECT_DOUBLE_EQ(loss->at(49).y(), metrics_at(49).loss);
}

TEST(DashboardView, DecimatesManyPointsButExportsThemAll) {
  constexpr int n = 100000;
  DashboardView view;
  for (int i = 0; i < n; ++i) view.add(metrics_at(i));
  view.flush();
  QLineSeries* loss = view.loss_chart()->series(DashboardView::kTrain);
  EXPECT_LE(loss->count(), MetricChart::kMaxDisplayedPoints);
  EXPECT_GT(loss->count(), MetricChart::kMaxDisplayedPoints / 2);
  EXPECT_EQ(loss->at(loss->count() - 1), QPointF(n - 1, metrics_at(n - 1).loss));  // last point kept
  EXPECT_DOUBLE_EQ(loss->at(0).x(), 0);

  QTemporaryDir dir;
  const QString csv = dir.filePath("loss.csv");
  ASSERT_TRUE(view.loss_chart()->export_csv(csv));
  EXPECT_EQ(count_lines(csv), n + 1);  // header + every raw point
  const QString png = dir.filePath("loss.png");
  ASSERT_TRUE(view.loss_chart()->export_png(png));
  EXPECT_FALSE(QImage(png).isNull());
}

TEST(DashboardView, ExportWritesRawStepAndValue) {
  MetricChart chart("test");
  chart.append("a", 3, 0.25);
  chart.append("a", 4, 0.5);
  QTemporaryDir dir;
  ASSERT_TRUE(chart.export_csv(dir.filePath("a.csv")));
  QFile file(dir.filePath("a.csv"));
  ASSERT_TRUE(file.open(QIODevice::ReadOnly | QIODevice::Text));
  EXPECT_EQ(QString(file.readAll()), "series,step,value\na,3,0.25\na,4,0.5\n");
}

TEST(DashboardView, SmoothingZeroGivesRawValues) {
  DashboardView view;
  for (int i = 0; i < 20; ++i) view.add(metrics_at(i));
  view.smoothing_slider()->setValue(90);  // smoothed ...
  QLineSeries* loss = view.loss_chart()->series(DashboardView::kTrain);
  EXPECT_NE(loss->at(10).y(), metrics_at(10).loss);
  EXPECT_DOUBLE_EQ(loss->at(0).y(), metrics_at(0).loss);  // the EMA starts at the first value
  view.smoothing_slider()->setValue(0);                   // ... and back to raw
  for (int i = 0; i < 20; ++i) EXPECT_DOUBLE_EQ(loss->at(i).y(), metrics_at(i).loss);
}

TEST(DashboardView, LogToggleSwitchesAxisType) {
  DashboardView view;
  view.add(metrics_at(0));
  view.flush();
  EXPECT_NE(qobject_cast<QValueAxis*>(view.loss_chart()->y_axis()), nullptr);
  view.log_scale_box()->setChecked(true);
  for (MetricChart* chart : view.charts()) EXPECT_NE(qobject_cast<QLogValueAxis*>(chart->y_axis()), nullptr);
  // The series is still attached to the new axis and still shows its point.
  EXPECT_TRUE(
      view.loss_chart()->series(DashboardView::kTrain)->attachedAxes().contains(view.loss_chart()->y_axis()));
  EXPECT_EQ(view.loss_chart()->series(DashboardView::kTrain)->count(), 1);
  view.log_scale_box()->setChecked(false);
  EXPECT_NE(qobject_cast<QValueAxis*>(view.loss_chart()->y_axis()), nullptr);
}

TEST(DashboardView, PlannedLearningRateAppearsBeforeAnyStep) {
  DashboardView view;
  std::vector<double> schedule;
  for (int i = 0; i < 100; ++i) schedule.push_back(1e-3 * (i + 1) / 100.0);
  view.set_planned_learning_rate(schedule);
  QLineSeries* planned = view.learning_rate_chart()->series(DashboardView::kPlanned);
  ASSERT_EQ(planned->count(), 100);
  EXPECT_DOUBLE_EQ(planned->at(99).y(), 1e-3);
  EXPECT_EQ(planned->pen().style(), Qt::DashLine);
  EXPECT_EQ(view.learning_rate_chart()->series(DashboardView::kActual)->count(), 0);
}

TEST(DashboardView, ValidationResultsGoToTheirOwnSeries) {
  DashboardView view;
  ValidationResult r;
  r.step = 100;
  r.loss = 2.5;
  view.add(r);
  view.flush();
  QLineSeries* validation = view.loss_chart()->series(DashboardView::kValidation);
  ASSERT_EQ(validation->count(), 1);
  EXPECT_EQ(validation->at(0), QPointF(100, 2.5));
}

TEST(DashboardView, HoverReadoutNamesTheNearestPoint) {
  MetricChart chart("test");
  chart.append("loss", 10, 2.0);
  chart.append("loss", 20, 1.5);
  chart.flush();
  EXPECT_EQ(chart.readout_at(17), "loss  step 20: 1.5");
  EXPECT_EQ(chart.readout_at(-5), "loss  step 10: 2");
}

TEST(DashboardView, OverlayOfAMetricsCsvAddsDimmedSeries) {
  QTemporaryDir dir;
  const QString path = dir.filePath("metrics.csv");
  {
    QFile file(path);
    ASSERT_TRUE(file.open(QIODevice::WriteOnly | QIODevice::Text));
    QTextStream out(&file);
    out << "type,step,epoch,loss,aux_loss,learning_rate,grad_norm,tokens_per_s,flops_per_s,mfu,memory_bytes,"
           "eta_s,elapsed_s,tokens_seen,perplexity\n"
        << "step_metrics,0,0,4.5,0,0.0001,2.5,1200,1e12,nan,1024,60,1,4096,\n"
        << "step_metrics,1,0,4.25,0,0.0002,2,1250,1e12,nan,1024,59,2,8192,\n"
        << "validation,1,,4.3,,,,,,,,,,,73.7\n";
  }
  DashboardView view;
  EXPECT_EQ(view.load_overlay(path), "");
  QLineSeries* train = view.loss_chart()->series(DashboardView::kTrain + DashboardView::kPreviousSuffix);
  ASSERT_NE(train, nullptr);
  ASSERT_EQ(train->count(), 2);
  EXPECT_EQ(train->at(1), QPointF(1, 4.25));
  EXPECT_LT(train->pen().color().alpha(), 255);  // dimmed
  QLineSeries* validation =
      view.loss_chart()->series(DashboardView::kValidation + DashboardView::kPreviousSuffix);
  ASSERT_NE(validation, nullptr);
  EXPECT_EQ(validation->at(0), QPointF(1, 4.3));
  QLineSeries* lr =
      view.learning_rate_chart()->series(DashboardView::kActual + DashboardView::kPreviousSuffix);
  ASSERT_NE(lr, nullptr);
  EXPECT_EQ(lr->count(), 2);
  EXPECT_NE(view.tokens_per_s_chart()->series(DashboardView::kValue + DashboardView::kPreviousSuffix),
            nullptr);

  // Loading again replaces, not duplicates; a bad file is refused and leaves the overlay.
  EXPECT_EQ(view.load_overlay(path), "");
  EXPECT_EQ(view.loss_chart()->series_names().size(), 4);
  EXPECT_NE(view.load_overlay(dir.filePath("missing.csv")), "");
  EXPECT_NE(view.loss_chart()->series(DashboardView::kTrain + DashboardView::kPreviousSuffix), nullptr);
  view.clear_overlay();
  EXPECT_EQ(view.loss_chart()->series(DashboardView::kTrain + DashboardView::kPreviousSuffix), nullptr);
}

}  // namespace
}  // namespace minimind

namespace minimind {
namespace {

TEST(DashboardView, EveryChartHasExportButtons) {
  DashboardView view;
  EXPECT_EQ(view.findChildren<QPushButton*>("export_png").size(), view.charts().size());
  EXPECT_EQ(view.findChildren<QPushButton*>("export_csv").size(), view.charts().size());
}

}  // namespace
}  // namespace minimind

namespace minimind {
namespace {

// A series that sat at 0 (an axis of +-1e-12) and then jumps to order 1 must get a tick interval for the new
// range before the range is applied; the other order lays out ~1e12 ticks and freezes the window.
TEST(MetricChart, RangeThatGrowsByOrdersOfMagnitudeKeepsFewTicks) {
  MetricChart chart("aux loss");
  chart.append("value", 0, 0.0);
  chart.flush();
  chart.append("value", 1, 0.5);
  chart.flush();  // returns at once (a hang here is the failure)
  auto* y = qobject_cast<QValueAxis*>(chart.y_axis());
  ASSERT_NE(y, nullptr);
  EXPECT_GT(y->tickInterval(), (y->max() - y->min()) / 20);
  EXPECT_LE(y->tickInterval(), y->max() - y->min());
}

}  // namespace
}  // namespace minimind
