// Shows the attention weights of a probe as a heatmap: one layer and head at a time, or the mean over the
// layer's heads, with the probe's tokens on both axes. The maps are pushed in with set_maps; the view knows
// nothing of where they come from. Bad maps are refused with a message and the previous maps stay shown.
#pragma once

#include <QString>
#include <QWidget>

#include <optional>
#include <vector>

#include "train/events.h"

class QCheckBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace minimind {

class HeatmapWidget;

class AttentionView : public QWidget {
  Q_OBJECT
 public:
  explicit AttentionView(QWidget* parent = nullptr);

  // Returns false (and shows why, see error_text) when the maps are inconsistent.
  bool set_maps(const AttentionMaps& maps);
  bool has_maps() const { return maps_.has_value(); }

  void set_layer(int layer);
  void set_head(int head);
  void set_average_over_heads(bool average);
  int layer() const;
  int head() const;
  bool average_over_heads() const;

  // The editable probe prompt; Refresh (or Enter in it) emits refresh_requested with it.
  QString probe_prompt() const;
  void set_probe_prompt(const QString& prompt);
  QPushButton* refresh_button() const { return refresh_button_; }

  HeatmapWidget* heatmap() const { return heatmap_; }
  QString step_text() const;
  QString note_text() const;   // the "no maps yet" note, empty once maps are shown
  QString error_text() const;  // why the last set_maps was refused, empty after a good one
  QString hover_text() const;  // the read-out under the heatmap

 signals:
  void refresh_requested(const QString& prompt);

 public:
  // Checks the maps' shape; returns the problem, or nothing when they are consistent.
  static std::optional<QString> validate(const AttentionMaps& maps);

 private:
  void show_selection();
  void export_png();
  void export_csv();

  std::optional<AttentionMaps> maps_;
  HeatmapWidget* heatmap_;
  QSpinBox* layer_box_;
  QSpinBox* head_box_;
  QCheckBox* average_box_;
  QLabel* step_label_;
  QLabel* note_label_;
  QLabel* error_label_;
  QLabel* hover_label_;
  QLineEdit* prompt_edit_;
  QPushButton* refresh_button_;
  QPushButton* png_button_;
  QPushButton* csv_button_;
};

}  // namespace minimind
