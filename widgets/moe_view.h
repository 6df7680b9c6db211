// The MoE view: per layer, the share of routed tokens each expert received at the last step (bars) and over
// time (a heatmap of expert by step), the load-balancing aux loss, and the imbalance max/mean load (a label
// for the last step and a chart over steps). Loads are pushed in with add(); nothing is drawn per event:
// events only update the state, and a timer redraws at most ten times a second. Hidden for dense models.
#pragma once

#include <QString>
#include <QTimer>
#include <QWidget>
#include <cstdint>
#include <optional>
#include <vector>

#include "config/model_config.h"
#include "train/events.h"

class QBarCategoryAxis;
class QBarSet;
class QChartView;
class QValueAxis;
class QLabel;
class QSpinBox;

namespace minimind {

class HeatmapWidget;
class MetricChart;

class MoeView : public QWidget {
  Q_OBJECT

 public:
  // The heatmap keeps at most this many columns: the last one is the last step as it is; the older steps
  // are averaged in buckets of 2^k consecutive steps, k growing as the run does (two neighbouring buckets
  // merge when the columns run out), so 100k steps cost as much to draw as 400.
  static constexpr int kMaxHeatmapColumns = 400;
  // Up to this many layers the imbalance chart has one series per layer; above, the worst and the mean.
  static constexpr int kMaxImbalanceSeries = 16;
  static inline const QString kAuxLoss = QStringLiteral("aux loss");
  static inline const QString kWorstLayer = QStringLiteral("worst layer");
  static inline const QString kMeanOverLayers = QStringLiteral("mean over layers");
  static QString layer_series(int layer) { return QStringLiteral("layer %1").arg(layer); }

  explicit MoeView(QWidget* parent = nullptr);

  // The widgets, for the main window and tests.
  QChartView* bar_chart() const { return bar_chart_; }
  QBarSet* bar_set() const { return bar_set_; }  // the chosen layer's shares at the last step, per expert
  HeatmapWidget* load_heatmap() const { return load_heatmap_; }
  MetricChart* aux_loss_chart() const { return aux_loss_chart_; }
  MetricChart* imbalance_chart() const { return imbalance_chart_; }
  QSpinBox* layer_box() const { return layer_box_; }
  bool charts_shown() const;  // false for a dense model, where the note is shown instead
  QString note_text() const;
  QString imbalance_text() const;
  QString error_text() const;  // empty when the last load was accepted

  // The last step's loads and imbalance max/mean per layer (empty before the first load).
  const std::optional<MoeLoad>& last_load() const { return last_load_; }
  const std::vector<double>& last_imbalance() const { return last_imbalance_; }
  // Old steps folded into each heatmap column but the last (1, 2, 4, ...).
  int64_t steps_per_column() const { return steps_per_bucket_; }

  // Redraws now what the timer would redraw at its next tick.
  void flush();
  // Forgets every load and aux loss (a new run).
  void clear();

  // The imbalance figure of one layer's loads: max / mean (1 = balanced, the expert count = one expert
  // takes every token); 0 when every load is 0.
  static double imbalance(const std::vector<double>& fractions);

 public slots:
  // A dense config hides the charts and shows why; an MoE config sets the layer and expert counts (and
  // clears the history when they change).
  void set_config(const minimind::ModelConfig& config);
  void add(const minimind::MoeLoad& load);
  void add_aux_loss(qint64 step, double aux_loss);
  void add(const minimind::StepMetrics& metrics);  // its aux loss

 private:
  struct Bucket {  // a heatmap column: the sum of the loads of steps [first_step, last_step]
    int64_t first_step = 0;
    int64_t last_step = 0;
    int64_t count = 0;
    std::vector<double> sum;  // [layer * num_experts + expert]
  };

  std::optional<QString> problem(const MoeLoad& load) const;
  void reset_shape(int layers, int experts);
  void fold_into_history(const MoeLoad& load);
  void refresh();
  void refresh_bars();
  void refresh_heatmap();
  void refresh_imbalance_label();
  void show_error(const QString& text);
  bool export_bars_csv(const QString& path) const;

  QWidget* charts_ = nullptr;
  QLabel* note_label_ = nullptr;
  QLabel* error_label_ = nullptr;
  QLabel* status_label_ = nullptr;
  QLabel* imbalance_label_ = nullptr;
  QLabel* hover_label_ = nullptr;
  QSpinBox* layer_box_ = nullptr;
  QChartView* bar_chart_ = nullptr;
  QBarSet* bar_set_ = nullptr;
  QBarCategoryAxis* bar_experts_axis_ = nullptr;
  QValueAxis* bar_share_axis_ = nullptr;
  HeatmapWidget* load_heatmap_ = nullptr;
  MetricChart* aux_loss_chart_ = nullptr;
  MetricChart* imbalance_chart_ = nullptr;
  QTimer timer_;

  bool dense_ = false;
  int num_layers_ = 0;
  int num_experts_ = 0;
  std::optional<MoeLoad> last_load_;  // the newest step, shown as the heatmap's last column
  std::vector<double> last_imbalance_;
  std::vector<Bucket> history_;  // older steps, oldest first
  int64_t steps_per_bucket_ = 1;
  bool dirty_ = false;
};

}  // namespace minimind
