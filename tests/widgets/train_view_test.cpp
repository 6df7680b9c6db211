// The Train view's buttons follow the run's state and the configuration's validity, its figures show the
// metrics pushed in (checked against the values themselves), and its requests are signals (offscreen).
#include "train_view.h"

#include <gtest/gtest.h>

#include <QLineSeries>
#include <QProgressBar>
#include <QPushButton>
#include <cmath>

#include "metric_chart.h"

namespace minimind {
namespace {

TEST(TrainView, ButtonsFollowTheStateAndTheConfiguration) {
  TrainView view;
  EXPECT_TRUE(view.start_button()->isEnabled());
  EXPECT_FALSE(view.pause_button()->isEnabled());
  EXPECT_FALSE(view.stop_button()->isEnabled());

  view.set_start_allowed(false, "num_attention_heads must divide hidden_size");
  EXPECT_FALSE(view.start_button()->isEnabled());
  view.set_start_allowed(true);
  EXPECT_TRUE(view.start_button()->isEnabled());

  view.set_state(TrainView::State::running);
  EXPECT_FALSE(view.start_button()->isEnabled());
  EXPECT_TRUE(view.pause_button()->isEnabled());
  EXPECT_FALSE(view.resume_button()->isEnabled());
  EXPECT_TRUE(view.stop_button()->isEnabled());
  view.set_state(TrainView::State::paused);
  EXPECT_FALSE(view.pause_button()->isEnabled());
  EXPECT_TRUE(view.resume_button()->isEnabled());
  EXPECT_TRUE(view.stop_button()->isEnabled());
  view.set_state(TrainView::State::idle);
  EXPECT_TRUE(view.start_button()->isEnabled());
}

TEST(TrainView, ButtonsEmitRequests) {
  TrainView view;
  int starts = 0, pauses = 0, resumes = 0, stops = 0;
  QObject::connect(&view, &TrainView::start_requested, [&] { ++starts; });
  QObject::connect(&view, &TrainView::pause_requested, [&] { ++pauses; });
  QObject::connect(&view, &TrainView::resume_requested, [&] { ++resumes; });
  QObject::connect(&view, &TrainView::stop_requested, [&] { ++stops; });
  view.start_button()->click();
  view.set_state(TrainView::State::running);
  view.pause_button()->click();
  view.set_state(TrainView::State::paused);
  view.resume_button()->click();
  view.stop_button()->click();
  EXPECT_EQ(starts, 1);
  EXPECT_EQ(pauses, 1);
  EXPECT_EQ(resumes, 1);
  EXPECT_EQ(stops, 1);

  QString resumed;
  QObject::connect(&view, &TrainView::resume_run_requested, [&](const QString& dir) { resumed = dir; });
  view.set_state(TrainView::State::idle);
  view.set_last_run("/runs/a", "checkpoint at step 40");
  EXPECT_FALSE(view.resume_last_button()->isHidden());
  view.resume_last_button()->click();
  EXPECT_EQ(resumed, "/runs/a");
  view.set_last_run({}, {});
  EXPECT_TRUE(view.resume_last_button()->isHidden());
}

TEST(TrainView, FiguresShowTheMetrics) {
  TrainView view;
  view.begin_run("/runs/b", 0, 200);
  StepMetrics m;
  m.step = 49;
  m.epoch = 1;
  m.loss = 3.14159;
  m.tokens_per_s = 7321.4;
  m.flops_per_s = 2.06e11;
  m.memory_bytes = 355LL << 20;
  m.elapsed_s = 65;
  m.eta_s = 3725;
  view.show_metrics(m);
  EXPECT_EQ(view.progress_bar()->value(), 50);
  EXPECT_EQ(view.progress_bar()->maximum(), 200);
  const QString status = view.status_text();
  EXPECT_TRUE(status.contains("50 / 200 (epoch 2)")) << status.toStdString();
  EXPECT_TRUE(status.contains("3.1416")) << status.toStdString();
  EXPECT_TRUE(status.contains("7321 tokens/s")) << status.toStdString();
  EXPECT_TRUE(status.contains("206.0 GFLOP/s")) << status.toStdString();
  EXPECT_TRUE(status.contains("355.0 MiB")) << status.toStdString();
  EXPECT_TRUE(status.contains("1m 05s elapsed, 1h 02m left")) << status.toStdString();
  EXPECT_TRUE(status.contains("unknown on the CPU")) << status.toStdString();  // NaN MFU
  m.step = 50;
  m.mfu = 0.4213;
  view.show_metrics(m);
  EXPECT_TRUE(view.status_text().contains("42.1 %")) << view.status_text().toStdString();

  view.loss_chart()->flush();
  const auto& points = view.loss_chart()->raw_points("train");
  ASSERT_EQ(points.size(), 2u);
  EXPECT_DOUBLE_EQ(points[1].x(), 50);
  EXPECT_DOUBLE_EQ(points[1].y(), 3.14159);

  view.begin_run("/runs/b", 120, 200);  // a resumed run starts its bar at its step and clears the chart
  EXPECT_EQ(view.progress_bar()->value(), 120);
  view.loss_chart()->flush();
  EXPECT_TRUE(view.loss_chart()->raw_points("train").empty());
}

TEST(TrainView, LogKeepsWarningsAndSkippedSteps) {
  TrainView view;
  view.append_log(TrainView::LogKind::warning, "loss spike at step 12 <z = 7.1>");
  view.append_log(TrainView::LogKind::skipped, "Skipped step 13: gradient norm is NaN");
  const QString log = view.log_text();
  EXPECT_TRUE(log.contains("loss spike at step 12 <z = 7.1>")) << log.toStdString();  // escaped, not parsed
  EXPECT_TRUE(log.contains("Skipped step 13: gradient norm is NaN"));
}

TEST(TrainView, FormatsDurationsAndSizes) {
  EXPECT_EQ(TrainView::format_duration(42.4), "42s");
  EXPECT_EQ(TrainView::format_duration(185), "3m 05s");
  EXPECT_EQ(TrainView::format_duration(3725), "1h 02m");
  EXPECT_EQ(TrainView::format_duration(std::nan("")), "unknown");
  EXPECT_EQ(TrainView::format_bytes(512), "512 B");
  EXPECT_EQ(TrainView::format_bytes(3LL << 30), "3.0 GiB");
}

}  // namespace
}  // namespace minimind
