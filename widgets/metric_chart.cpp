// A buffered, decimated line chart (see metric_chart.h).
#include "metric_chart.h"

#include <QChart>
#include <QFile>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QMouseEvent>
#include <QPixmap>
#include <QTextStream>
#include <QToolTip>
#include <QValueAxis>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace minimind {

namespace {

// 10 Hz: smooth enough to look live, rare enough that a rebuild of 2000 points per series costs nothing.
constexpr int kRefreshMs = 100;

std::vector<QPointF> smooth(const std::vector<QPointF>& raw, double factor) {
  if (factor <= 0) return raw;
  std::vector<QPointF> out;
  out.reserve(raw.size());
  double s = 0;
  for (size_t i = 0; i < raw.size(); ++i) {
    s = i == 0 ? raw[i].y() : factor * s + (1 - factor) * raw[i].y();
    out.emplace_back(raw[i].x(), s);
  }
  return out;
}

// Min/max per bucket, first and last points kept (the rule is in metric_chart.h).
std::vector<QPointF> decimate(const std::vector<QPointF>& points, size_t limit) {
  if (points.size() <= limit) return points;
  const size_t buckets = (limit - 2) / 2;
  const size_t size = (points.size() + buckets - 1) / buckets;
  std::vector<QPointF> out;
  out.reserve(2 * buckets + 1);
  for (size_t begin = 0; begin < points.size(); begin += size) {
    const size_t end = std::min(points.size(), begin + size);
    size_t lo = begin, hi = begin;
    for (size_t i = begin; i < end; ++i) {
      if (points[i].y() < points[lo].y()) lo = i;
      if (points[i].y() > points[hi].y()) hi = i;
    }
    out.push_back(points[std::min(lo, hi)]);
    if (lo != hi) out.push_back(points[std::max(lo, hi)]);
  }
  // The end points fix the x range, so they are always shown.
  if (out.front() != points.front()) out.insert(out.begin(), points.front());
  if (out.back() != points.back()) out.push_back(points.back());
  return out;
}

// The shortest text that reads back as the same double (as CsvMetricsWriter prints its numbers).
QString shortest(double v) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
  return QString::fromLatin1(buffer, result.ptr - buffer);
}

}  // namespace

MetricChart::MetricChart(const QString& title, QWidget* parent) : QChartView(parent) {
  auto* c = new QChart;
  c->setTitle(title);
  c->legend()->setAlignment(Qt::AlignBottom);
  setChart(c);
  setRenderHint(QPainter::Antialiasing);
  setMouseTracking(true);
  x_axis_ = new QValueAxis;
  x_axis_->setTitleText("step");
  x_axis_->setLabelFormat("%g");
  c->addAxis(x_axis_, Qt::AlignBottom);
  install_y_axis();
  connect(&timer_, &QTimer::timeout, this, &MetricChart::flush);
  timer_.start(kRefreshMs);
}

MetricChart::Entry& MetricChart::entry(const QString& name, Style style) {
  auto it = series_.find(name);
  if (it != series_.end()) return it->second;
  Entry e;
  e.style = style;
  e.line = new QLineSeries;
  e.line->setName(name);
  chart()->addSeries(e.line);  // the theme picks the colour; the style then adjusts the pen
  e.line->attachAxis(x_axis_);
  e.line->attachAxis(y_axis_);
  QPen pen = e.line->pen();
  pen.setWidthF(1.5);
  if (style == Style::Planned) pen.setStyle(Qt::DashLine);
  if (style == Style::Overlay) {
    QColor colour = pen.color();
    colour.setAlpha(90);
    pen.setColor(colour);
    pen.setWidthF(1.0);
  }
  e.line->setPen(pen);
  order_.push_back(name);
  return series_.emplace(name, std::move(e)).first->second;
}

void MetricChart::add_series(const QString& name, Style style) {
  entry(name, style);
}

void MetricChart::append(const QString& name, double step, double value) {
  Entry& e = entry(name, Style::Normal);
  e.raw.emplace_back(step, value);
  e.dirty = true;
}

void MetricChart::set_points(const QString& name, std::vector<QPointF> points, Style style) {
  Entry& e = entry(name, style);
  e.raw = std::move(points);
  e.dirty = true;
  flush();
}

void MetricChart::remove_series_with_style(Style style) {
  for (auto it = series_.begin(); it != series_.end();) {
    if (it->second.style != style) {
      ++it;
      continue;
    }
    chart()->removeSeries(it->second.line);
    delete it->second.line;
    order_.erase(std::find(order_.begin(), order_.end(), it->first));
    it = series_.erase(it);
  }
  update_ranges();
}

void MetricChart::clear_points(Style style) {
  for (auto& [name, e] : series_) {
    if (e.style != style) continue;
    e.raw.clear();
    e.line->clear();
    e.dirty = false;
  }
  update_ranges();
}

void MetricChart::remove_series(const QString& name) {
  auto it = series_.find(name);
  if (it == series_.end()) return;
  chart()->removeSeries(it->second.line);
  delete it->second.line;
  order_.erase(std::find(order_.begin(), order_.end(), name));
  series_.erase(it);
  update_ranges();
}

void MetricChart::set_x_title(const QString& title) {
  x_title_ = title;
  x_axis_->setTitleText(title);
}

std::vector<QPointF> MetricChart::displayed_points(const Entry& e) const {
  // A planned curve is a schedule, not a noisy measurement: smoothing it would only distort it.
  std::vector<QPointF> points = smooth(e.raw, e.style == Style::Planned ? 0 : smoothing_);
  // NaN/inf cannot be drawn; non-positive values cannot sit on a log axis.
  std::erase_if(points,
                [&](const QPointF& p) { return !std::isfinite(p.y()) || (log_scale_ && p.y() <= 0); });
  return decimate(points, kMaxDisplayedPoints);
}

void MetricChart::flush() {
  bool changed = false;
  for (auto& [name, e] : series_) {
    if (!e.dirty) continue;
    const std::vector<QPointF> points = displayed_points(e);
    e.line->replace(QList<QPointF>(points.begin(), points.end()));  // one update, not one per point
    e.dirty = false;
    changed = true;
  }
  if (changed) update_ranges();
}

namespace {

// Sets the range with ticks at round numbers (1, 2 or 5 times a power of ten), about `ticks` of them, so that
// axes read "0, 100, 200" rather than "1, 14.5, 28". The interval is set before the range: the other order would
// lay out the new range with the old interval first, which for a range grown by orders of magnitude means
// billions of ticks.
void set_range_with_round_ticks(QValueAxis* axis, double lo, double hi, int ticks = 5) {
  const double raw = (hi - lo) / ticks;
  if (raw > 0 && std::isfinite(raw)) {
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    const double fraction = raw / magnitude;
    const double step = (fraction < 1.5 ? 1 : fraction < 3.5 ? 2 : fraction < 7.5 ? 5 : 10) * magnitude;
    axis->setTickType(QValueAxis::TicksDynamic);
    axis->setTickAnchor(0);
    axis->setTickInterval(step);
  }
  axis->setRange(lo, hi);
}

}  // namespace

void MetricChart::update_ranges() {
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  double y_lo = x_lo, y_hi = -x_lo;
  for (const auto& [name, e] : series_) {
    for (const QPointF& p : e.line->points()) {
      x_lo = std::min(x_lo, p.x());
      x_hi = std::max(x_hi, p.x());
      y_lo = std::min(y_lo, p.y());
      y_hi = std::max(y_hi, p.y());
    }
  }
  if (!std::isfinite(x_lo)) return;  // nothing displayed yet
  if (x_hi == x_lo) x_hi = x_lo + 1;
  set_range_with_round_ticks(x_axis_, x_lo, x_hi);
  if (log_scale_) {
    if (y_hi == y_lo) y_hi = y_lo * 10;
    y_axis_->setRange(y_lo / 1.1, y_hi * 1.1);
  } else {
    const double pad = y_hi == y_lo ? std::max(1e-12, std::abs(y_lo) * 0.1) : (y_hi - y_lo) * 0.05;
    // While the axis is being swapped for the scale the type can lag behind log_scale_.
    if (auto* linear = qobject_cast<QValueAxis*>(y_axis_))
      set_range_with_round_ticks(linear, y_lo - pad, y_hi + pad);
    else
      y_axis_->setRange(y_lo - pad, y_hi + pad);
  }
}

void MetricChart::set_smoothing(double factor) {
  smoothing_ = std::clamp(factor, 0.0, 0.999);
  for (auto& [name, e] : series_) e.dirty = true;
  flush();
}

void MetricChart::install_y_axis() {
  if (y_axis_ != nullptr) {
    chart()->removeAxis(y_axis_);  // detaches it from every series
    delete y_axis_;
  }
  if (log_scale_) {
    auto* axis = new QLogValueAxis;
    axis->setBase(10);
    axis->setLabelFormat("%g");
    axis->setMinorTickCount(-1);
    y_axis_ = axis;
  } else {
    auto* axis = new QValueAxis;
    axis->setLabelFormat("%g");
    y_axis_ = axis;
  }
  chart()->addAxis(y_axis_, Qt::AlignLeft);
  for (auto& [name, e] : series_) e.line->attachAxis(y_axis_);
}

void MetricChart::set_log_scale(bool on) {
  if (on == log_scale_) return;
  log_scale_ = on;
  // Drop the non-positive points first: attaching them to a log axis would only make it complain.
  for (auto& [name, e] : series_) e.dirty = true;
  flush();
  install_y_axis();
  update_ranges();
}

bool MetricChart::export_csv(const QString& path) const {
  QFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) return false;
  QTextStream out(&file);
  QString x_column = x_title_;
  if (x_column.contains(',') || x_column.contains('"')) x_column = '"' + x_column.replace("\"", "\"\"") + '"';
  out << "series," << x_column << ",value\n";
  for (const QString& name : order_) {
    QString quoted = name;
    if (quoted.contains(',') || quoted.contains('"')) quoted = '"' + quoted.replace("\"", "\"\"") + '"';
    for (const QPointF& p : series_.at(name).raw)
      out << quoted << ',' << shortest(p.x()) << ',' << shortest(p.y()) << '\n';
  }
  out.flush();
  return file.error() == QFile::NoError;
}

bool MetricChart::export_png(const QString& path) {
  return grab().save(path, "PNG");
}

QString MetricChart::readout_at(double step) const {
  bool found = false;
  QPointF best;
  QString best_name;
  for (const QString& name : order_) {
    const QList<QPointF> points = series_.at(name).line->points();
    if (points.isEmpty()) continue;
    // Displayed points are in step order, so the nearest step is at or just before the lower bound.
    auto it = std::lower_bound(points.begin(), points.end(), step,
                               [](const QPointF& p, double s) { return p.x() < s; });
    if (it == points.end()) --it;
    if (it != points.begin() && std::abs(std::prev(it)->x() - step) <= std::abs(it->x() - step)) --it;
    if (!found || std::abs(it->x() - step) < std::abs(best.x() - step)) {
      found = true;
      best = *it;
      best_name = name;
    }
  }
  if (!found) return {};
  return QStringLiteral("%1  %2 %3: %4")
      .arg(best_name, x_title_)
      .arg(best.x(), 0, 'g', 12)
      .arg(best.y(), 0, 'g', 6);
}

void MetricChart::mouseMoveEvent(QMouseEvent* event) {
  QChartView::mouseMoveEvent(event);
  if (!chart()->plotArea().contains(event->position())) {
    QToolTip::hideText();
    return;
  }
  const QPointF value = chart()->mapToValue(event->position());
  const QString text = readout_at(value.x());
  if (text.isEmpty()) return;
  QToolTip::showText(event->globalPosition().toPoint(), text, this);
}

QLineSeries* MetricChart::series(const QString& name) const {
  auto it = series_.find(name);
  return it == series_.end() ? nullptr : it->second.line;
}

const std::vector<QPointF>& MetricChart::raw_points(const QString& name) const {
  static const std::vector<QPointF> empty;
  auto it = series_.find(name);
  return it == series_.end() ? empty : it->second.raw;
}

QStringList MetricChart::series_names() const {
  return QStringList(order_.begin(), order_.end());
}

}  // namespace minimind
