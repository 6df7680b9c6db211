// The Train view's buttons follow the run's state and the configuration's validity, its figures show the
// metrics pushed in (checked against the values themselves), and its requests are signals (offscreen).
#include "train_view.h"

#include <gtest/gtest.h>

#include <QComboBox>
#include <QLineSeries>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QStandardItemModel>
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

// As list_devices() reports them, pushed in.
DeviceChoice cpu_choice() {
  DeviceChoice cpu;
  cpu.name = "AMD EPYC 7B13";
  cpu.total_bytes = 62LL << 30;
  cpu.free_bytes = 40LL << 30;
  return cpu;
}

DeviceChoice gpu_choice(int index, const std::string& name, int64_t total_bytes,
                        const std::string& unavailable = {}) {
  DeviceChoice gpu;
  gpu.spec = {Device::cuda, index};
  gpu.name = name;
  gpu.total_bytes = total_bytes;
  gpu.free_bytes = total_bytes / 2;
  gpu.unavailable = unavailable;
  return gpu;
}

bool entry_enabled(const TrainView& view, int index) {
  auto* model = qobject_cast<QStandardItemModel*>(view.device_box()->model());
  return model->item(index)->isEnabled();
}

TEST(TrainView, OneEntryPerGpuWithItsNameAndMemory) {
  TrainView view;
  const auto h100_bytes = static_cast<int64_t>(79.1 * (1LL << 30));
  view.set_devices(
      {cpu_choice(), gpu_choice(0, "NVIDIA H100 80GB HBM3", h100_bytes),
       gpu_choice(1, "NVIDIA H100 80GB HBM3", h100_bytes, "CUDA error cudaErrorDevicesUnavailable")});
  QComboBox* box = view.device_box();
  ASSERT_EQ(box->count(), 3);
  EXPECT_EQ(box->itemText(0), "CPU: AMD EPYC 7B13, 62.0 GiB");
  EXPECT_EQ(box->itemText(1), "GPU 0: NVIDIA H100 80GB HBM3, 79.1 GiB");
  EXPECT_EQ(box->itemText(2), "GPU (CUDA): CUDA error cudaErrorDevicesUnavailable");
  EXPECT_TRUE(entry_enabled(view, 1));
  EXPECT_FALSE(entry_enabled(view, 2)) << "a GPU that cannot be used is greyed out with its reason";
  EXPECT_EQ(box->itemData(2, Qt::ToolTipRole).toString(), "CUDA error cudaErrorDevicesUnavailable");
  EXPECT_EQ(view.device(), "cpu");
  auto* threads = view.findChild<QSpinBox*>("threads");
  ASSERT_NE(threads, nullptr);
  EXPECT_TRUE(threads->isEnabled());

  // Choosing the GPU: its factory name, the threads disabled, the change announced.
  QStringList changes;
  QObject::connect(&view, &TrainView::device_changed, [&](const QString& device) { changes << device; });
  EXPECT_TRUE(view.select_device("cuda:0"));
  EXPECT_EQ(view.device(), "cuda:0");
  EXPECT_TRUE(view.gpu_selected());
  EXPECT_FALSE(threads->isEnabled());
  EXPECT_FALSE(view.select_device("cuda:1")) << "an unusable GPU cannot be chosen";
  EXPECT_EQ(view.device(), "cuda:0");
  EXPECT_EQ(changes, QStringList{"cuda:0"});

  // Listed again with the GPU still there: the choice stays, without a change. Without it: back to the CPU.
  view.set_devices({cpu_choice(), gpu_choice(0, "NVIDIA H100 80GB HBM3", h100_bytes)});
  EXPECT_EQ(view.device(), "cuda:0");
  EXPECT_EQ(changes, QStringList{"cuda:0"});
  view.set_devices({cpu_choice(), gpu_choice(0, {}, 0, "no NVIDIA GPU on this machine")});
  EXPECT_EQ(view.device(), "cpu");
  EXPECT_FALSE(view.gpu_selected());
  EXPECT_TRUE(threads->isEnabled());
  EXPECT_EQ((changes), (QStringList{"cuda:0", "cpu"}));
}

TEST(TrainView, WithoutAGpuTheEntrySaysWhy) {
  TrainView view;
  const std::string why = "this build has no CUDA backend (nvcc was not found when it was configured)";
  view.set_devices({cpu_choice(), gpu_choice(0, {}, 0, why)});
  QComboBox* box = view.device_box();
  ASSERT_EQ(box->count(), 2);
  EXPECT_EQ(box->itemText(1).toStdString(), "GPU (CUDA): " + why);
  EXPECT_FALSE(entry_enabled(view, 1));
  EXPECT_FALSE(view.select_device("cuda:0"));
  EXPECT_EQ(view.device(), "cpu");
  // While a run trains, the device cannot change.
  view.set_state(TrainView::State::running);
  EXPECT_FALSE(box->isEnabled());
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
