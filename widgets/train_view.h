// The Train view: the device and threads, start / pause / resume / stop, resuming a run directory, the run's
// progress (step, ETA, tokens/s, MFU, memory), a live loss chart and a log pane of validations, checkpoints,
// warnings and skipped steps. It emits requests and shows what it is told; it never touches a trainer.
#pragma once

#include <QString>
#include <QWidget>
#include <vector>

#include "backend/device_list.h"
#include "train/events.h"

class QComboBox;
class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace minimind {

class MetricChart;

class TrainView : public QWidget {
  Q_OBJECT

 public:
  enum class State { idle, preparing, running, pausing, paused, stopping };
  enum class LogKind { info, validation, checkpoint, warning, skipped, error, sample };

  explicit TrainView(QWidget* parent = nullptr);

  int threads() const;
  void set_threads(int threads);
  // The devices to offer (list_devices()): the CPU, then one entry per GPU with its name and memory ("GPU 0:
  // NVIDIA H100 80GB HBM3, 79.1 GiB"); a GPU that cannot be used is greyed out with its reason. The
  // selection stays on the same device when it is still usable, else goes to the CPU.
  void set_devices(const std::vector<DeviceChoice>& devices);
  const std::vector<DeviceChoice>& devices() const { return devices_; }
  bool gpu_selected() const;
  // The selected device's name for the backend factory: "cpu" or "cuda:N".
  QString device() const;
  // Selects `device` ("cpu", "cuda:N") when it is listed and usable; returns whether it did.
  bool select_device(const QString& device);
  QComboBox* device_box() const { return device_; }

  // Start is enabled only when idle and the configuration is valid; `why_not` is shown beside it.
  void set_start_allowed(bool allowed, const QString& why_not = {});
  void set_state(State state);
  State state() const { return state_; }

  // A new run: the progress bar spans [start_step, total_steps] and the loss chart is cleared.
  void begin_run(const QString& run_dir, int64_t start_step, int64_t total_steps);
  void show_metrics(const StepMetrics& metrics);
  void append_log(LogKind kind, const QString& text);
  // The run directory that the "Resume last run" button continues; empty hides it.
  void set_last_run(const QString& run_dir, const QString& description);

  QPushButton* start_button() const { return start_; }
  QPushButton* pause_button() const { return pause_; }
  QPushButton* resume_button() const { return resume_; }
  QPushButton* stop_button() const { return stop_; }
  QPushButton* resume_last_button() const { return resume_last_; }
  QProgressBar* progress_bar() const { return progress_; }
  MetricChart* loss_chart() const { return loss_; }
  QString status_text() const;  // the figures line: step, loss, tokens/s, MFU, memory, ETA
  QString log_text() const;

  // "1h 02m", "3m 05s", "42s".
  static QString format_duration(double seconds);
  static QString format_bytes(int64_t bytes);

 signals:
  void start_requested();
  void pause_requested();
  void resume_requested();
  void stop_requested();
  void resume_run_requested(const QString& run_dir);
  // Another device was selected ("cpu", "cuda:N"): the cost panel shows its figures.
  void device_changed(const QString& device);

 private:
  void choose_run_to_resume();
  void update_buttons();

  std::vector<DeviceChoice> devices_;  // the combo box's entries, in order
  QComboBox* device_ = nullptr;
  QSpinBox* threads_ = nullptr;
  QPushButton* start_ = nullptr;
  QPushButton* pause_ = nullptr;
  QPushButton* resume_ = nullptr;
  QPushButton* stop_ = nullptr;
  QPushButton* resume_dir_ = nullptr;
  QPushButton* resume_last_ = nullptr;
  QLabel* start_note_ = nullptr;
  QLabel* run_label_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QLabel* step_label_ = nullptr;
  QLabel* loss_label_ = nullptr;
  QLabel* speed_label_ = nullptr;
  QLabel* mfu_label_ = nullptr;
  QLabel* memory_label_ = nullptr;
  QLabel* eta_label_ = nullptr;
  MetricChart* loss_ = nullptr;
  QPlainTextEdit* log_ = nullptr;
  State state_ = State::idle;
  bool start_allowed_ = true;
  QString last_run_;
  int64_t start_step_ = 0;
  int64_t total_steps_ = 0;
};

}  // namespace minimind
