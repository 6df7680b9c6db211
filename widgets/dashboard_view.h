// The training dashboard: charts of train and validation loss, learning rate (planned schedule and actual),
// gradient norm, aux loss and tokens/s, with a smoothing slider, a log-scale check box and an overlay of a
// previous run read from its metrics.csv. It is fed through add(); it knows nothing of where data comes from.
#pragma once

#include <QString>
#include <QWidget>
#include <vector>

#include "metric_chart.h"
#include "train/events.h"

class QCheckBox;
class QLabel;
class QSlider;

namespace minimind {

class DashboardView : public QWidget {
  Q_OBJECT

 public:
  // Series names, shared by the live and the overlay series (overlays add kPreviousSuffix).
  static inline const QString kTrain = QStringLiteral("train");
  static inline const QString kValidation = QStringLiteral("validation");
  static inline const QString kPlanned = QStringLiteral("planned");
  static inline const QString kActual = QStringLiteral("actual");
  static inline const QString kValue = QStringLiteral("value");
  static inline const QString kPreviousSuffix = QStringLiteral(" (previous)");

  explicit DashboardView(QWidget* parent = nullptr);

  MetricChart* loss_chart() const { return loss_; }
  MetricChart* learning_rate_chart() const { return learning_rate_; }
  MetricChart* grad_norm_chart() const { return grad_norm_; }
  MetricChart* aux_loss_chart() const { return aux_loss_; }
  MetricChart* tokens_per_s_chart() const { return tokens_per_s_; }
  std::vector<MetricChart*> charts() const {
    return {loss_, learning_rate_, grad_norm_, aux_loss_, tokens_per_s_};
  }
  QSlider* smoothing_slider() const { return smoothing_; }
  QCheckBox* log_scale_box() const { return log_scale_; }

  // Empties the live series (a new run starts); the planned curve and the overlay stay.
  void clear_run();

  // Displays every chart's pending points now instead of at the next tick.
  void flush();

  // Reads a metrics.csv written by CsvMetricsWriter and draws it as dimmed series, replacing any previous
  // overlay. Returns an empty string on success, else why it failed (also shown under the controls).
  QString load_overlay(const QString& path);
  void clear_overlay();

 public slots:
  void add(const minimind::StepMetrics& metrics);
  void add(const minimind::ValidationResult& result);
  // The learning-rate schedule, one value per optimizer step from 0, drawn before the run starts.
  void set_planned_learning_rate(const std::vector<double>& schedule);

 private:
  void choose_overlay();

  MetricChart* loss_ = nullptr;
  MetricChart* learning_rate_ = nullptr;
  MetricChart* grad_norm_ = nullptr;
  MetricChart* aux_loss_ = nullptr;
  MetricChart* tokens_per_s_ = nullptr;
  QSlider* smoothing_ = nullptr;
  QCheckBox* log_scale_ = nullptr;
  QLabel* overlay_status_ = nullptr;
};

}  // namespace minimind
