// The lab's main window: one tab per view (Configure, Data, Train, Dashboard, Attention, RoPE, MoE, Generate),
// the controllers that own the worker threads, and the wiring between them. It remembers its layout, the last
// configuration and the last run (QSettings), and never closes on a running run without asking.
#pragma once

#include <QMainWindow>
#include <QString>
#include <functional>
#include <optional>

#include "train/run_config.h"

class QLabel;
class QTabWidget;

namespace minimind {

class AttentionView;
class ConfigView;
class DashboardView;
class DataController;
class DataView;
class EventLoopMonitor;
class GenerateView;
class GenerationController;
class MoeView;
class RopeView;
class TrainView;
class TrainingController;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  enum Tab { configure_tab, data_tab, train_tab, dashboard_tab, attention_tab, rope_tab, moe_tab, generate_tab };

  // The configuration a fresh lab opens on: the tiny preset, sized to train on the default corpus in minutes.
  static RunConfig default_run_config();

  // Restores the layout, configuration and last run from QSettings unless `initial` is given.
  explicit MainWindow(std::optional<RunConfig> initial = std::nullopt, QWidget* parent = nullptr);
  ~MainWindow() override;

  QTabWidget* tabs() const { return tabs_; }
  ConfigView* config_view() const { return config_view_; }
  DataView* data_view() const { return data_view_; }
  TrainView* train_view() const { return train_view_; }
  DashboardView* dashboard_view() const { return dashboard_view_; }
  AttentionView* attention_view() const { return attention_view_; }
  RopeView* rope_view() const { return rope_view_; }
  MoeView* moe_view() const { return moe_view_; }
  GenerateView* generate_view() const { return generate_view_; }
  TrainingController* training() const { return training_; }
  DataController* data() const { return data_; }
  GenerationController* generation() const { return generation_; }
  EventLoopMonitor* event_loop_monitor() const { return monitor_; }
  QString error_text() const;  // the banner's message; empty when none is shown

  // What closing asks while a run trains: true stops it (with a checkpoint) and closes. Replaceable for tests.
  void set_close_confirmation(std::function<bool()> confirm) { confirm_close_ = std::move(confirm); }

 public slots:
  void start_training();  // prepares the data first when it is not prepared yet
  void resume_run(const QString& run_dir);
  void show_error(const QString& message);

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  void build_menus();
  void connect_training();
  void connect_data();
  void connect_generation();
  void launch_training(const QString& data_dir);
  void run_ended(const QString& reason, bool failed);
  void use_training_model();
  void refresh_attention(const QString& prompt);
  void config_changed(const RunConfig& config);
  void device_changed(const QString& device);       // the Train view's choice: the cost panel follows it
  void load_sample_tokenizer(const QString& path);  // empty: the default tokenizer
  void restore_settings(bool restore_config);
  void save_settings() const;
  void remember_run(const QString& run_dir);

  QTabWidget* tabs_ = nullptr;
  QLabel* error_banner_ = nullptr;
  QLabel* latency_label_ = nullptr;
  ConfigView* config_view_ = nullptr;
  DataView* data_view_ = nullptr;
  TrainView* train_view_ = nullptr;
  DashboardView* dashboard_view_ = nullptr;
  AttentionView* attention_view_ = nullptr;
  RopeView* rope_view_ = nullptr;
  MoeView* moe_view_ = nullptr;
  GenerateView* generate_view_ = nullptr;
  TrainingController* training_ = nullptr;
  DataController* data_ = nullptr;
  GenerationController* generation_ = nullptr;
  EventLoopMonitor* monitor_ = nullptr;
  std::function<bool()> confirm_close_;
  bool start_after_prepare_ = false;
  bool closing_ = false;
  QString pending_attention_prompt_;
  QString last_run_dir_;
};

}  // namespace minimind
