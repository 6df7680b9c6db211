// The RoPE view (see rope_view.h). Frequencies come from core (rope_frequencies / rope_frequencies_unscaled)
// or from the model's RopeTable event; everything else shown is derived from them here:
//   wavelength_i = 2 pi / theta_i, angle(p, i) = p theta_i (mod 2 pi),
//   decay(d) = E[q . R(d) q] / E[q . q] for a random Gaussian q. R(d) rotates each dimension pair i by
//   d theta_i, and q_pair . R q_pair = |q_pair|^2 cos(d theta_i), so decay(d) = sum_i w_i cos(d theta_i) with
//   w_i = E|q_pair_i|^2 / E|q|^2 = 1 / (pairs) for i.i.d. components: the mean of cos(d theta_i).
//   The sampled curve replaces the expectations by sums over kDecaySamples drawn vectors (same weights form).
#include "rope_view.h"

#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <set>
#include <string>

#include "chart_export.h"
#include "heatmap_widget.h"
#include "metric_chart.h"
#include "model/rope_table.h"

namespace minimind {

namespace {

constexpr double kTwoPi = 2 * std::numbers::pi;

std::vector<QPointF> per_pair(const std::vector<double>& values, auto&& transform) {
  std::vector<QPointF> points;
  points.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) points.emplace_back(double(i), transform(values[i]));
  return points;
}

// Share of E|q|^2 carried by each pair for kDecaySamples Gaussian vectors; pair i is dimensions (i, i + D/2),
// the rotate-half layout the model uses (any fixed pairing gives the same distribution).
std::vector<double> sampled_pair_weights(size_t pairs) {
  std::mt19937_64 generator(RopeView::kDecaySeed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> energy(pairs, 0.0);
  for (int s = 0; s < RopeView::kDecaySamples; ++s) {
    for (size_t i = 0; i < 2 * pairs; ++i) {
      const double x = normal(generator);
      energy[i % pairs] += x * x;
    }
  }
  double total = 0;
  for (double e : energy) total += e;
  for (double& e : energy) e /= total;
  return energy;
}

// A config's RoPE fields are usable when validate() finds nothing wrong with the fields they depend on.
std::optional<QString> rope_problem(const ModelConfig& config) {
  static const std::set<std::string> rope_fields = {"hidden_size",
                                                    "num_attention_heads",
                                                    "max_position_embeddings",
                                                    "rope_theta",
                                                    "rope_scaling.type",
                                                    "rope_scaling.factor",
                                                    "rope_scaling.beta_slow",
                                                    "rope_scaling.beta_fast",
                                                    "rope_scaling.original_max_position_embeddings"};
  for (const ConfigIssue& issue : validate(config))
    if (rope_fields.contains(issue.field)) return QString::fromStdString(issue.field + ": " + issue.rule);
  return std::nullopt;
}

std::optional<QString> table_problem(const RopeTable& table) {
  if (table.head_dim <= 0 || table.head_dim % 2 != 0)
    return QString("head_dim must be positive and even, found %1").arg(table.head_dim);
  if (table.max_positions <= 0 || table.max_positions > kMaxPositionEmbeddings)
    return QString("max_positions must be in [1, %1], found %2")
        .arg(kMaxPositionEmbeddings)
        .arg(table.max_positions);
  const auto pairs = static_cast<size_t>(table.head_dim / 2);
  if (table.frequencies.size() != pairs || table.base_frequencies.size() != pairs)
    return QString("expected %1 frequencies (head_dim / 2) of each kind, found %2 in use and %3 base")
        .arg(qint64(pairs))
        .arg(qint64(table.frequencies.size()))
        .arg(qint64(table.base_frequencies.size()));
  for (size_t i = 0; i < pairs; ++i) {
    for (double f : {table.frequencies[i], table.base_frequencies[i]})
      if (!std::isfinite(f) || f <= 0)
        return QString("frequency of pair %1 must be positive and finite, found %2").arg(qint64(i)).arg(f);
  }
  return std::nullopt;
}

}  // namespace

RopeView::RopeView(QWidget* parent) : QWidget(parent) {
  frequency_chart_ = new MetricChart(tr("Inverse frequency theta_i per dimension pair (log scale)"));
  frequency_chart_->set_x_title(tr("dimension pair i"));
  frequency_chart_->set_log_scale(true);
  frequency_chart_->setToolTip(
      tr("theta_i = rope_theta^(-2i/head_dim) radians per position; with YaRN, the "
         "rescaled values the model uses beside the original ones"));
  wavelength_chart_ = new MetricChart(tr("Wavelength 2 pi / theta_i against the context length (log scale)"));
  wavelength_chart_->set_x_title(tr("dimension pair i"));
  wavelength_chart_->set_log_scale(true);
  wavelength_chart_->setToolTip(
      tr("Positions for one full turn of each pair. Pairs above the context line "
         "never complete a turn within the context."));
  decay_chart_ =
      new MetricChart(tr("Relative-position decay E[q . R(d) q] / E[q . q] for random Gaussian q"));
  decay_chart_->set_x_title(tr("relative distance d (positions)"));
  decay_chart_->setToolTip(
      tr("The expected value is the mean over pairs of cos(d theta_i); the sampled curve "
         "averages %1 random q vectors (seed %2).")
          .arg(kDecaySamples)
          .arg(kDecaySeed));

  angle_heatmap_ = new HeatmapWidget;
  angle_heatmap_->set_causal_mask(false);
  angle_heatmap_->set_square_cells(false);
  angle_heatmap_->set_axis_nouns(tr("position"), tr("pair"));
  angle_heatmap_->set_value_range(0, kTwoPi);
  angle_heatmap_->setToolTip(tr("Rotation angle p * theta_i modulo 2 pi, in radians (dark 0, bright 2 pi)"));
  positions_box_ = new QSpinBox;
  positions_box_->setRange(1, kMaxHeatmapPositions);
  positions_box_->setValue(kDefaultHeatmapPositions);
  positions_box_->setSuffix(tr(" positions"));
  positions_box_->setToolTip(tr("Positions shown in the angle heatmap, from 0 (at most the context length)"));
  hover_label_ = new QLabel;
  hover_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  connect(angle_heatmap_, &HeatmapWidget::hovered, hover_label_, &QLabel::setText);
  connect(positions_box_, &QSpinBox::valueChanged, this, [this] { update_heatmap(); });

  auto* heatmap_panel = new QWidget;
  auto* heatmap_layout = new QVBoxLayout(heatmap_panel);
  heatmap_layout->setContentsMargins(0, 0, 0, 0);
  auto* heatmap_controls = new QHBoxLayout;
  heatmap_controls->addWidget(new QLabel(tr("Rotation angle p * theta_i mod 2 pi (radians), rows: position, "
                                            "columns: dimension pair")),
                              1);
  heatmap_controls->addWidget(positions_box_);
  heatmap_layout->addLayout(heatmap_controls);
  heatmap_layout->addWidget(with_export_buttons(angle_heatmap_, "rope_angles"), 1);
  heatmap_layout->addWidget(hover_label_);

  summary_label_ = new QLabel(tr("No RoPE configuration yet."));
  summary_label_->setWordWrap(true);
  summary_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  error_label_ = new QLabel;
  error_label_->setWordWrap(true);
  error_label_->setStyleSheet("color: #b00020;");
  error_label_->hide();

  auto* grid = new QGridLayout;
  grid->addWidget(with_export_buttons(frequency_chart_, "rope_frequencies"), 0, 0);
  grid->addWidget(with_export_buttons(wavelength_chart_, "rope_wavelengths"), 0, 1);
  grid->addWidget(heatmap_panel, 1, 0);
  grid->addWidget(with_export_buttons(decay_chart_, "rope_decay"), 1, 1);

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(summary_label_);
  layout->addWidget(error_label_);
  layout->addLayout(grid, 1);
}

QString RopeView::summary_text() const {
  return summary_label_->text();
}

QString RopeView::error_text() const {
  return error_label_->isHidden() ? QString() : error_label_->text();
}

void RopeView::show_error(const QString& text) {
  error_label_->setText(text);
  error_label_->setVisible(!text.isEmpty());
}

void RopeView::set_config(const ModelConfig& config) {
  if (auto problem = rope_problem(config)) {
    show_error(tr("The RoPE charts cannot show this configuration: %1").arg(*problem));
    return;
  }
  show_error({});
  config_ = config;
  const bool yarn = config.yarn_active();
  std::optional<int64_t> original;
  if (yarn) original = config.rope_scaling.original_max_position_embeddings;
  show_frequencies(rope_frequencies(config, DType::f64), rope_frequencies_unscaled(config, DType::f64),
                   config.max_position_embeddings, original);
  QString text = tr("head_dim %1: %2 dimension pairs, rope_theta %3, context %4 positions. ")
                     .arg(config.head_dim())
                     .arg(config.head_dim() / 2)
                     .arg(config.rope_theta, 0, 'g', 6)
                     .arg(config.max_position_embeddings);
  if (yarn) {
    const RopeScaling& s = config.rope_scaling;
    text += tr("YaRN on: factor %1, original context %2, beta_fast %3, beta_slow %4.")
                .arg(s.factor, 0, 'g', 6)
                .arg(s.original_max_position_embeddings)
                .arg(s.beta_fast, 0, 'g', 6)
                .arg(s.beta_slow, 0, 'g', 6);
  } else if (config.inference_rope_scaling) {
    text += tr("YaRN is enabled but inactive: the context is not longer than the original %1 positions.")
                .arg(config.rope_scaling.original_max_position_embeddings);
  } else {
    text += tr("YaRN off.");
  }
  summary_label_->setText(text);
}

void RopeView::set_rope_table(const RopeTable& table) {
  if (auto problem = table_problem(table)) {
    show_error(tr("The RoPE table of step %1 was not shown: %2").arg(table.step).arg(*problem));
    return;
  }
  show_error({});
  const bool scaled = table.frequencies != table.base_frequencies;
  // The event does not carry the original context; the config shown last does, when it matches.
  std::optional<int64_t> original;
  if (scaled && config_ && config_->yarn_active())
    original = config_->rope_scaling.original_max_position_embeddings;
  show_frequencies(table.frequencies, table.base_frequencies, table.max_positions, original);
  summary_label_->setText(
      tr("Frequencies of the running model at step %1: head_dim %2 (%3 pairs), context %4 "
         "positions, %5.")
          .arg(table.step)
          .arg(table.head_dim)
          .arg(table.head_dim / 2)
          .arg(table.max_positions)
          .arg(scaled ? tr("YaRN-scaled") : tr("no scaling")));
}

void RopeView::show_frequencies(std::vector<double> in_use, std::vector<double> base, int64_t context,
                                std::optional<int64_t> original_context) {
  frequencies_ = std::move(in_use);
  base_frequencies_ = std::move(base);
  context_ = context;
  original_context_ = original_context;
  {
    const QSignalBlocker block(positions_box_);  // one heatmap rebuild below, not two
    positions_box_->setMaximum(static_cast<int>(std::min<int64_t>(context_, kMaxHeatmapPositions)));
  }
  update_frequency_charts();
  update_heatmap();
  update_decay();
}

void RopeView::update_frequency_charts() {
  const bool scaled = frequencies_ != base_frequencies_;
  auto wavelength = [](double f) { return kTwoPi / f; };
  auto identity = [](double f) { return f; };
  for (MetricChart* chart : {frequency_chart_, wavelength_chart_}) {
    const bool is_frequency = chart == frequency_chart_;
    auto draw = [&](const QString& name, const std::vector<double>& values) {
      chart->set_points(name, is_frequency ? per_pair(values, identity) : per_pair(values, wavelength));
    };
    if (scaled) {
      chart->remove_series(kFrequency);
      draw(kOriginal, base_frequencies_);
      draw(kScaled, frequencies_);
    } else {
      chart->remove_series(kOriginal);
      chart->remove_series(kScaled);
      draw(kFrequency, frequencies_);
    }
  }
  // The context lines span the pairs; a pair whose wavelength is above a line turns less than once in it.
  const double last_pair = frequencies_.empty() ? 1.0 : std::max(1.0, double(frequencies_.size() - 1));
  auto horizontal = [&](double y) { return std::vector<QPointF>{{0.0, y}, {last_pair, y}}; };
  wavelength_chart_->set_points(kContext, horizontal(double(context_)), MetricChart::Style::Planned);
  if (original_context_)
    wavelength_chart_->set_points(kOriginalContext, horizontal(double(*original_context_)),
                                  MetricChart::Style::Planned);
  else
    wavelength_chart_->remove_series(kOriginalContext);
}

void RopeView::update_heatmap() {
  const int positions = positions_box_->value();
  const int pairs = static_cast<int>(frequencies_.size());
  if (pairs == 0) {
    angle_heatmap_->clear();
    return;
  }
  std::vector<float> angles(static_cast<size_t>(positions) * pairs);
  QStringList position_labels, pair_labels;
  for (int p = 0; p < positions; ++p) {
    position_labels << QString::number(p);
    for (int i = 0; i < pairs; ++i) {
      const double angle = std::fmod(double(p) * frequencies_[i], kTwoPi);
      angles[static_cast<size_t>(p) * pairs + i] = static_cast<float>(angle);
    }
  }
  for (int i = 0; i < pairs; ++i) pair_labels << QString::number(i);
  angle_heatmap_->set_matrix(positions, pairs, std::move(angles), position_labels, pair_labels);
}

void RopeView::update_decay() {
  const size_t pairs = frequencies_.size();
  if (pairs == 0) return;
  const std::vector<double> weights = sampled_pair_weights(pairs);
  const int64_t points = std::min(context_, kMaxDecayDistances) + 1;
  std::vector<QPointF> expected, sampled;
  expected.reserve(static_cast<size_t>(points));
  sampled.reserve(static_cast<size_t>(points));
  for (int64_t k = 0; k < points; ++k) {
    // Whole distances; exactly 0..context when every distance fits.
    const auto distance = static_cast<double>(
        points - 1 == context_ ? k : std::llround(double(k) * double(context_) / double(points - 1)));
    double mean = 0, weighted = 0;
    for (size_t i = 0; i < pairs; ++i) {
      const double c = std::cos(distance * frequencies_[i]);
      mean += c;
      weighted += weights[i] * c;
    }
    expected.emplace_back(distance, mean / double(pairs));
    sampled.emplace_back(distance, weighted);
  }
  decay_chart_->set_points(kExpectedDecay, std::move(expected));
  decay_chart_->set_points(kSampledDecay, std::move(sampled), MetricChart::Style::Overlay);
}

}  // namespace minimind
