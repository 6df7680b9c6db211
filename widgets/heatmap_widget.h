// Paints a matrix of values as colours (viridis over a value range, [0, 1] unless set), with row and column
// labels, a hover read-out and an optional causal mask (the upper triangle, key after query, drawn as
// background). The cells are painted from a cached image rebuilt only when the data changes; labels are drawn
// over it at paint time. Cells are square by default; a long matrix (positions, steps) can stretch them to
// fill the widget instead, and then every k-th label is drawn so that they do not overlap.
#pragma once

#include <QImage>
#include <QStringList>
#include <QWidget>

#include <optional>
#include <vector>

namespace minimind {

class HeatmapWidget : public QWidget {
  Q_OBJECT
 public:
  struct Cell {
    int row = 0;
    int col = 0;
    bool operator==(const Cell&) const = default;
  };

  explicit HeatmapWidget(QWidget* parent = nullptr);

  // values is rows*cols, row-major; labels must have rows and cols entries (or be empty: numbered).
  // Throws std::invalid_argument when the sizes disagree; the shown matrix is then unchanged.
  void set_matrix(int rows, int cols, std::vector<float> values, QStringList row_labels, QStringList col_labels);
  void clear();
  // Draw cells with col > row as background (attention that causality forbids).
  void set_causal_mask(bool masked);
  // What a hovered cell is called in the read-out: "<row noun> <token> -> <col noun> <token>: <weight>".
  void set_axis_nouns(const QString& row_noun, const QString& col_noun);
  // Values from lo (first colour) to hi (last colour), clamped outside; the colour bar is labelled with
  // both. Throws std::invalid_argument unless lo < hi, both finite.
  void set_value_range(double lo, double hi);
  double range_low() const { return range_lo_; }
  double range_high() const { return range_hi_; }
  // false: cells take the whole grid area, however wide or tall (default: square cells).
  void set_square_cells(bool square);

  int rows() const { return rows_; }
  int cols() const { return cols_; }
  float value_at(int row, int col) const;  // throws std::out_of_range outside the matrix
  QString row_label(int row) const { return row_labels_.value(row); }
  QString col_label(int col) const { return col_labels_.value(col); }
  bool masked(int row, int col) const { return causal_mask_ && col > row; }
  std::optional<Cell> cell_at(const QPoint& point) const;  // widget coordinates
  QRect cell_rect(int row, int col) const;                   // widget coordinates
  QString hover_text(int row, int col) const;
  QString last_hover_text() const { return last_hover_; }

  // The viridis colour of a value in [0, 1] (clamped), interpolated from a small table.
  static QColor colour_for(float value);

  bool export_png(const QString& path);        // the widget as painted
  bool export_csv(const QString& path) const;  // the matrix, with the labels as header row and column

  QSize sizeHint() const override { return {480, 420}; }
  QSize minimumSizeHint() const override { return {160, 140}; }

 signals:
  void hovered(const QString& text);  // empty when the pointer leaves the matrix

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void leaveEvent(QEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;

 private:
  QRect grid_rect() const;  // where the cells go, in widget coordinates
  // Edges of column `col` / row `row` in the grid (cell boundaries fall on whole pixels).
  int col_edge(const QRect& grid, int col) const { return grid.left() + col * grid.width() / cols_; }
  int row_edge(const QRect& grid, int row) const { return grid.top() + row * grid.height() / rows_; }
  void rebuild_image();
  // The value's place in the range: 0 at its low end, 1 at its high end.
  float normalised(float value) const {
    return static_cast<float>((value - range_lo_) / (range_hi_ - range_lo_));
  }
  static QString range_label(double value) { return QString::number(value, 'g', 3); }
  void update_label_extents();
  void set_hover(const QString& text);

  int rows_ = 0, cols_ = 0;
  std::vector<float> values_;
  QStringList row_labels_, col_labels_;
  bool causal_mask_ = true;
  QString row_noun_ = "query", col_noun_ = "key";
  double range_lo_ = 0, range_hi_ = 1;
  bool square_cells_ = true;
  QImage image_;  // one pixel per cell, rebuilt when the data changes
  int row_label_width_ = 0, col_label_height_ = 0;
  QString last_hover_;
};

}  // namespace minimind
