// The RoPE view: the inverse frequency of every dimension pair, its wavelength against the context length
// (YaRN-scaled beside the original when YaRN is on), a heatmap of the rotation angle by position and pair,
// and the relative-position decay of q . R(d) q. Values come from core/model/rope_table.h; the view only
// draws them. Fed with set_config (the config panel) or set_rope_table (the running model's event).
#pragma once

#include <QString>
#include <QWidget>
#include <cstdint>
#include <optional>
#include <vector>

#include "config/model_config.h"
#include "train/events.h"

class QLabel;
class QSpinBox;

namespace minimind {

class HeatmapWidget;
class MetricChart;

class RopeView : public QWidget {
  Q_OBJECT

 public:
  // Series names. Without YaRN the frequency and wavelength charts hold one series, kFrequency; with it,
  // kOriginal (rope_theta^(-2i/d)) and kScaled (the YaRN-rescaled values the model uses).
  static inline const QString kFrequency = QStringLiteral("frequency");
  static inline const QString kOriginal = QStringLiteral("original");
  static inline const QString kScaled = QStringLiteral("YaRN-scaled");
  static inline const QString kContext = QStringLiteral("context length");  // wavelength chart
  static inline const QString kOriginalContext = QStringLiteral("original context length");  // with YaRN
  static inline const QString kExpectedDecay = QStringLiteral("expected: mean cos(d theta_i)");
  static inline const QString kSampledDecay = QStringLiteral("sampled: 256 random q");

  // The heatmap shows positions [0, N) for N from the spin box (default 512), at most the context length.
  static constexpr int kDefaultHeatmapPositions = 512;
  static constexpr int kMaxHeatmapPositions = 4096;
  // The decay is evaluated at every distance 0..context when the context is at most this long, else at
  // this many + 1 evenly spaced whole distances from 0 to the context length.
  static constexpr int64_t kMaxDecayDistances = 32768;
  // The sampled decay curve: this many Gaussian q vectors drawn with this seed (the same curve each time).
  static constexpr int kDecaySamples = 256;
  static constexpr uint64_t kDecaySeed = 42;

  explicit RopeView(QWidget* parent = nullptr);

  MetricChart* frequency_chart() const { return frequency_chart_; }
  MetricChart* wavelength_chart() const { return wavelength_chart_; }
  MetricChart* decay_chart() const { return decay_chart_; }
  HeatmapWidget* angle_heatmap() const { return angle_heatmap_; }
  QSpinBox* positions_box() const { return positions_box_; }
  QString summary_text() const;
  QString error_text() const;  // empty when the last input was shown

  // The frequencies shown (in use by the model, YaRN included) and the unscaled ones; equal without YaRN.
  const std::vector<double>& frequencies() const { return frequencies_; }
  const std::vector<double>& base_frequencies() const { return base_frequencies_; }

 public slots:
  // Recomputes every chart from the config's RoPE fields (in double precision). A config whose RoPE fields
  // are invalid is refused with the reason shown; the previous charts stay.
  void set_config(const minimind::ModelConfig& config);
  // The frequencies the running model uses (from the training event); redraws every chart from them.
  void set_rope_table(const minimind::RopeTable& table);

 private:
  void show_frequencies(std::vector<double> in_use, std::vector<double> base, int64_t context,
                        std::optional<int64_t> original_context);
  void update_frequency_charts();
  void update_heatmap();
  void update_decay();
  void show_error(const QString& text);

  MetricChart* frequency_chart_ = nullptr;
  MetricChart* wavelength_chart_ = nullptr;
  MetricChart* decay_chart_ = nullptr;
  HeatmapWidget* angle_heatmap_ = nullptr;
  QSpinBox* positions_box_ = nullptr;
  QLabel* summary_label_ = nullptr;
  QLabel* error_label_ = nullptr;
  QLabel* hover_label_ = nullptr;

  std::vector<double> frequencies_;
  std::vector<double> base_frequencies_;
  int64_t context_ = 0;
  std::optional<int64_t> original_context_;  // shown when YaRN rescales the frequencies
  std::optional<ModelConfig> config_;        // the last config shown, for the original context of events
};

}  // namespace minimind
