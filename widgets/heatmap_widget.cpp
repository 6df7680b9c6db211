// Heatmap: cells from a cached one-pixel-per-cell image scaled without smoothing, labels and colour bar
// painted over it. Layout: row labels on the left, column labels rotated under the grid, colour bar right.
#include "heatmap_widget.h"

#include <QFile>
#include <QMouseEvent>
#include <QPainter>
#include <QTextStream>
#include <QToolTip>

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>

namespace minimind {
namespace {

constexpr int kMargin = 6;
constexpr int kMaxLabelWidth = 96;  // longer tokens are elided
constexpr int kBarWidth = 12;
constexpr int kBarGap = 8;

// Viridis at ten evenly spaced stops (matplotlib's table, sampled).
constexpr std::array<std::array<int, 3>, 10> kViridis{{{68, 1, 84},
                                                       {72, 40, 120},
                                                       {62, 73, 137},
                                                       {49, 104, 142},
                                                       {38, 130, 142},
                                                       {31, 158, 137},
                                                       {53, 183, 121},
                                                       {110, 206, 88},
                                                       {181, 222, 43},
                                                       {253, 231, 37}}};

QString csv_field(const QString& text) {
  if (!text.contains(',') && !text.contains('"') && !text.contains('\n') && !text.contains('\r')) return text;
  QString quoted = text;
  quoted.replace('"', "\"\"");
  return '"' + quoted + '"';
}

}  // namespace

HeatmapWidget::HeatmapWidget(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

QColor HeatmapWidget::colour_for(float value) {
  if (!std::isfinite(value)) value = 0.0f;
  const double v = std::clamp(static_cast<double>(value), 0.0, 1.0) * (kViridis.size() - 1);
  const auto lo = std::min(static_cast<size_t>(v), kViridis.size() - 2);
  const double f = v - static_cast<double>(lo);
  const auto& a = kViridis[lo];
  const auto& b = kViridis[lo + 1];
  auto mix = [&](int i) { return static_cast<int>(std::lround(a[i] + (b[i] - a[i]) * f)); };
  return QColor(mix(0), mix(1), mix(2));
}

void HeatmapWidget::set_matrix(int rows, int cols, std::vector<float> values, QStringList row_labels,
                               QStringList col_labels) {
  if (rows < 0 || cols < 0) throw std::invalid_argument("heatmap: negative matrix size");
  const size_t expected = static_cast<size_t>(rows) * static_cast<size_t>(cols);
  if (values.size() != expected) {
    throw std::invalid_argument("heatmap: " + std::to_string(values.size()) + " values for a " +
                                std::to_string(rows) + " x " + std::to_string(cols) + " matrix (expected " +
                                std::to_string(expected) + ")");
  }
  if (row_labels.isEmpty())
    for (int r = 0; r < rows; ++r) row_labels << QString::number(r);
  if (col_labels.isEmpty())
    for (int c = 0; c < cols; ++c) col_labels << QString::number(c);
  if (row_labels.size() != rows || col_labels.size() != cols) {
    throw std::invalid_argument("heatmap: " + std::to_string(row_labels.size()) + " row labels and " +
                                std::to_string(col_labels.size()) + " column labels for a " +
                                std::to_string(rows) + " x " + std::to_string(cols) + " matrix");
  }
  rows_ = rows;
  cols_ = cols;
  values_ = std::move(values);
  row_labels_ = std::move(row_labels);
  col_labels_ = std::move(col_labels);
  update_label_extents();
  rebuild_image();
  set_hover(QString());
  update();
}

void HeatmapWidget::clear() {
  rows_ = cols_ = 0;
  values_.clear();
  row_labels_.clear();
  col_labels_.clear();
  update_label_extents();
  rebuild_image();
  set_hover(QString());
  update();
}

void HeatmapWidget::set_causal_mask(bool masked) {
  if (masked == causal_mask_) return;
  causal_mask_ = masked;
  rebuild_image();
  update();
}

void HeatmapWidget::set_value_range(double lo, double hi) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi))
    throw std::invalid_argument("heatmap: value range [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                "] is empty or not finite");
  if (lo == range_lo_ && hi == range_hi_) return;
  range_lo_ = lo;
  range_hi_ = hi;
  rebuild_image();
  update();
}

void HeatmapWidget::set_square_cells(bool square) {
  if (square == square_cells_) return;
  square_cells_ = square;
  update();
}

void HeatmapWidget::set_axis_nouns(const QString& row_noun, const QString& col_noun) {
  row_noun_ = row_noun;
  col_noun_ = col_noun;
}

float HeatmapWidget::value_at(int row, int col) const {
  if (row < 0 || row >= rows_ || col < 0 || col >= cols_) {
    throw std::out_of_range("heatmap: cell (" + std::to_string(row) + ", " + std::to_string(col) +
                            ") outside a " + std::to_string(rows_) + " x " + std::to_string(cols_) + " matrix");
  }
  return values_[static_cast<size_t>(row) * cols_ + col];
}

void HeatmapWidget::update_label_extents() {
  const QFontMetrics fm = fontMetrics();
  int row_w = 0, col_w = 0;
  for (const auto& l : row_labels_) row_w = std::max(row_w, fm.horizontalAdvance(l));
  for (const auto& l : col_labels_) col_w = std::max(col_w, fm.horizontalAdvance(l));
  row_label_width_ = rows_ > 0 ? std::min(row_w, kMaxLabelWidth) + kMargin : 0;
  col_label_height_ = cols_ > 0 ? std::min(col_w, kMaxLabelWidth) + kMargin : 0;
}

QRect HeatmapWidget::grid_rect() const {
  if (rows_ == 0 || cols_ == 0) return {};
  const int bar_label = std::max({fontMetrics().horizontalAdvance("0.00"),
                                  fontMetrics().horizontalAdvance(range_label(range_lo_)),
                                  fontMetrics().horizontalAdvance(range_label(range_hi_))});
  const int bar = kBarGap + kBarWidth + kMargin + bar_label;
  const int avail_w = width() - 2 * kMargin - row_label_width_ - bar;
  const int avail_h = height() - 2 * kMargin - col_label_height_;
  if (!square_cells_)
    return QRect(kMargin + row_label_width_, kMargin, std::max(1, avail_w), std::max(1, avail_h));
  // Square cells, as large as fit; at least one pixel.
  const int cell = std::max(1, std::min(avail_w / cols_, avail_h / rows_));
  return QRect(kMargin + row_label_width_, kMargin, cell * cols_, cell * rows_);
}

QRect HeatmapWidget::cell_rect(int row, int col) const {
  const QRect g = grid_rect();
  if (g.isEmpty() || row < 0 || row >= rows_ || col < 0 || col >= cols_) return {};
  return QRect(QPoint(col_edge(g, col), row_edge(g, row)),
               QPoint(col_edge(g, col + 1) - 1, row_edge(g, row + 1) - 1));
}

std::optional<HeatmapWidget::Cell> HeatmapWidget::cell_at(const QPoint& point) const {
  const QRect g = grid_rect();
  if (g.isEmpty() || !g.contains(point)) return std::nullopt;
  // The inverse of col_edge / row_edge: the last column whose edge is at or before the offset o, i.e. the
  // largest c with floor(c * width / cols) <= o (with square cells: o divided by the cell size).
  auto index = [](int64_t offset, int64_t count, int64_t extent) {
    return static_cast<int>(((offset + 1) * count - 1) / extent);
  };
  const int col = index(point.x() - g.left(), cols_, g.width());
  const int row = index(point.y() - g.top(), rows_, g.height());
  if (row < 0 || row >= rows_ || col < 0 || col >= cols_) return std::nullopt;
  return Cell{row, col};
}

QString HeatmapWidget::hover_text(int row, int col) const {
  if (row < 0 || row >= rows_ || col < 0 || col >= cols_) return {};
  QString text = QString("%1 %2 -> %3 %4: ")
                     .arg(row_noun_, row_labels_[row], col_noun_, col_labels_[col]);
  if (masked(row, col)) return text + "masked";
  return text + QString::number(value_at(row, col), 'f', 4);
}

void HeatmapWidget::rebuild_image() {
  if (rows_ == 0 || cols_ == 0) {
    image_ = QImage();
    return;
  }
  image_ = QImage(cols_, rows_, QImage::Format_ARGB32);
  for (int r = 0; r < rows_; ++r) {
    auto* line = reinterpret_cast<QRgb*>(image_.scanLine(r));
    for (int c = 0; c < cols_; ++c)
      line[c] = masked(r, c) ? qRgba(0, 0, 0, 0)
                             : colour_for(normalised(values_[static_cast<size_t>(r) * cols_ + c])).rgb();
  }
}

void HeatmapWidget::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().color(QPalette::Base));
  const QRect g = grid_rect();
  if (g.isEmpty()) {
    p.setPen(palette().color(QPalette::PlaceholderText));
    p.drawText(rect(), Qt::AlignCenter, tr("No data"));
    return;
  }
  const QFontMetrics fm = fontMetrics();
  // Cells: masked ones are transparent in the image and show this background.
  p.fillRect(g, palette().color(QPalette::Window));
  p.setRenderHint(QPainter::SmoothPixmapTransform, false);
  p.drawImage(g, image_);

  p.setPen(palette().color(QPalette::Text));
  // Square cells: every label, or none when the cells are too small to read them. Stretched cells: every
  // k-th label, k chosen so that neighbouring labels do not overlap.
  const int readable = fm.height() * 2 / 3;
  const double cell_w = double(g.width()) / cols_, cell_h = double(g.height()) / rows_;
  int row_stride = 1, col_stride = 1;
  if (square_cells_) {
    row_stride = col_stride = cell_w >= readable ? 1 : 0;
  } else {
    row_stride = std::max(1, static_cast<int>(std::ceil(fm.height() / cell_h)));
    col_stride = std::max(1, static_cast<int>(std::ceil(fm.height() / cell_w)));
  }
  // Row labels, right-aligned against the grid, centred on their row.
  for (int r = 0; row_stride > 0 && r < rows_; r += row_stride) {
    const QString text = fm.elidedText(row_labels_[r], Qt::ElideRight, kMaxLabelWidth);
    const int top = row_edge(g, r), height = std::max(row_edge(g, r + 1) - top, fm.height());
    const int centre = (top + row_edge(g, r + 1)) / 2;
    p.drawText(QRect(kMargin, centre - height / 2, row_label_width_ - kMargin, height),
               Qt::AlignRight | Qt::AlignVCenter, text);
  }
  // Column labels, rotated to read bottom-up, their end against the grid's bottom edge.
  for (int c = 0; col_stride > 0 && c < cols_; c += col_stride) {
    const QString text = fm.elidedText(col_labels_[c], Qt::ElideRight, kMaxLabelWidth);
    const int width = std::max(col_edge(g, c + 1) - col_edge(g, c), fm.height());
    p.save();
    p.translate((col_edge(g, c) + col_edge(g, c + 1)) / 2, g.bottom() + 1 + kMargin / 2);
    p.rotate(-90);
    p.drawText(QRect(-(col_label_height_ - kMargin), -width / 2, col_label_height_ - kMargin, width),
               Qt::AlignRight | Qt::AlignVCenter, text);
    p.restore();
  }
  // Colour bar from the range's low end (bottom) to its high end (top).
  const QRect bar(g.right() + 1 + kBarGap, g.top(), kBarWidth, g.height());
  for (int y = 0; y < bar.height(); ++y) {
    const float v = bar.height() > 1 ? 1.0f - static_cast<float>(y) / (bar.height() - 1) : 1.0f;
    p.setPen(colour_for(v));
    p.drawLine(bar.left(), bar.top() + y, bar.right(), bar.top() + y);
  }
  p.setPen(palette().color(QPalette::Text));
  p.drawText(QPoint(bar.right() + 4, bar.top() + fm.ascent()), range_label(range_hi_));
  p.drawText(QPoint(bar.right() + 4, bar.bottom()), range_label(range_lo_));
}

void HeatmapWidget::set_hover(const QString& text) {
  if (text == last_hover_) return;
  last_hover_ = text;
  emit hovered(text);
}

void HeatmapWidget::mouseMoveEvent(QMouseEvent* event) {
  const QPoint pos = event->position().toPoint();
  if (const auto cell = cell_at(pos)) {
    const QString text = hover_text(cell->row, cell->col);
    set_hover(text);
    QToolTip::showText(event->globalPosition().toPoint(), text, this, cell_rect(cell->row, cell->col));
  } else {
    set_hover(QString());
    QToolTip::hideText();
  }
  QWidget::mouseMoveEvent(event);
}

void HeatmapWidget::leaveEvent(QEvent* event) {
  set_hover(QString());
  QWidget::leaveEvent(event);
}

void HeatmapWidget::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  update();  // the cached image is size-independent; only the layout changes
}

bool HeatmapWidget::export_png(const QString& path) {
  return grab().save(path, "PNG");
}

bool HeatmapWidget::export_csv(const QString& path) const {
  QFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) return false;
  QTextStream out(&file);
  out << csv_field(row_noun_ + "\\" + col_noun_);
  for (const auto& l : col_labels_) out << ',' << csv_field(l);
  out << '\n';
  for (int r = 0; r < rows_; ++r) {
    out << csv_field(row_labels_[r]);
    for (int c = 0; c < cols_; ++c) out << ',' << QString::number(value_at(r, c), 'g', 9);
    out << '\n';
  }
  out.flush();
  return out.status() == QTextStream::Ok && file.error() == QFileDevice::NoError;
}

}  // namespace minimind
