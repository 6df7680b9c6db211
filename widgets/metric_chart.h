// A reusable line chart for one or more named series of (step, value) points (the x axis is the training
// step unless set_x_title names another quantity, e.g. a dimension pair or a distance). Appending is cheap:
// points go into a buffer and the displayed QLineSeries are rebuilt at most ten times a second (or on
// flush()), never per point, so a fast training run does not drown the GUI thread in repaints.
//
// Every raw point is kept (for export); what is displayed is derived from them in three stages:
//   1. smoothing: exponential moving average s_i = f * s_{i-1} + (1 - f) * v_i, s_0 = v_0 (f = 0: raw);
//   2. log scale: points with value <= 0 cannot sit on a log axis and are left out while it is on;
//   3. decimation: a series with more than kMaxDisplayedPoints points is cut, by index, into
//      (kMaxDisplayedPoints - 2) / 2 buckets of equal size; each bucket contributes its minimum and its
//      maximum point (in step order, once if they coincide), and the first and last points are always
//      kept, so at most kMaxDisplayedPoints points are drawn. Min/max
//      rather than a plain stride so that a single loss spike never disappears from the chart.
#pragma once

#include <QChartView>
#include <QPointF>
#include <QString>
#include <QTimer>
#include <map>
#include <vector>

class QAbstractAxis;
class QLineSeries;
class QValueAxis;

namespace minimind {

class MetricChart : public QChartView {
  Q_OBJECT

 public:
  static constexpr int kMaxDisplayedPoints = 2000;

  enum class Style {
    Normal,   // a live series
    Planned,  // drawn before the run (the learning-rate schedule): dashed
    Overlay,  // a previous run for comparison: dimmed
  };

  explicit MetricChart(const QString& title, QWidget* parent = nullptr);

  // Adds an empty series; appending to an unknown name adds it with Style::Normal.
  void add_series(const QString& name, Style style = Style::Normal);
  // Buffers one point; displayed at the next timer tick or flush().
  void append(const QString& name, double step, double value);
  // Replaces a series' points at once (planned curves, overlays) and flushes.
  void set_points(const QString& name, std::vector<QPointF> points, Style style = Style::Normal);
  // Removes the series of this style (e.g. a previous overlay before loading another).
  void remove_series_with_style(Style style);
  // Empties the series of this style but keeps them (their look and legend), e.g. when a new run starts.
  void clear_points(Style style);
  // Removes one series (nothing happens when there is none of that name).
  void remove_series(const QString& name);
  // What the x values are: the axis title, the CSV header's second column and the read-out's noun
  // ("step" unless set).
  void set_x_title(const QString& title);
  QString x_title() const { return x_title_; }

  // Rebuilds the displayed series from the raw points of those that changed.
  void flush();

  // The EMA factor f in [0, 1); 0 shows the raw values. Applies to every series but planned ones.
  void set_smoothing(double factor);
  double smoothing() const { return smoothing_; }
  void set_log_scale(bool on);
  bool log_scale() const { return log_scale_; }

  // Writes "series,<x title>,value" rows of every raw (unsmoothed, undecimated) point; false on I/O failure.
  bool export_csv(const QString& path) const;
  // Saves a picture of the chart as it is shown; false on failure.
  bool export_png(const QString& path);

  // The read-out shown on hover: the displayed point nearest to `step` over all series, e.g.
  // "loss  step 120: 2.3456" (the x title in place of "step"); empty when nothing is displayed.
  QString readout_at(double step) const;

  // For tests and callers that want to inspect what is drawn.
  QLineSeries* series(const QString& name) const;
  const std::vector<QPointF>& raw_points(const QString& name) const;
  QAbstractAxis* y_axis() const { return y_axis_; }
  QStringList series_names() const;

 protected:
  void mouseMoveEvent(QMouseEvent* event) override;

 private:
  struct Entry {
    QLineSeries* line = nullptr;
    Style style = Style::Normal;
    std::vector<QPointF> raw;
    bool dirty = false;
  };

  Entry& entry(const QString& name, Style style);
  std::vector<QPointF> displayed_points(const Entry& e) const;
  void install_y_axis();
  void update_ranges();

  std::map<QString, Entry> series_;
  std::vector<QString> order_;  // insertion order, for export and legend stability
  QValueAxis* x_axis_ = nullptr;
  QAbstractAxis* y_axis_ = nullptr;
  QTimer timer_;
  double smoothing_ = 0;
  bool log_scale_ = false;
  QString x_title_ = QStringLiteral("step");
};

}  // namespace minimind
