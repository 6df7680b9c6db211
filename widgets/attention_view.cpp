// Attention view: selectors and read-outs around a HeatmapWidget; the matrix shown is sliced (or averaged
// over heads, in double) from the stored AttentionMaps whenever the maps or the selection change.
#include "attention_view.h"

#include <QCheckBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QVBoxLayout>

#include "heatmap_widget.h"

namespace minimind {

AttentionView::AttentionView(QWidget* parent) : QWidget(parent) {
  heatmap_ = new HeatmapWidget(this);
  heatmap_->set_axis_nouns("query", "key");
  layer_box_ = new QSpinBox(this);
  head_box_ = new QSpinBox(this);
  average_box_ = new QCheckBox(tr("Average over heads"), this);
  step_label_ = new QLabel(this);
  note_label_ = new QLabel(tr("No attention maps yet: they arrive every few steps while training, or on "
                              "demand from a loaded model."),
                           this);
  note_label_->setWordWrap(true);
  error_label_ = new QLabel(this);
  error_label_->setWordWrap(true);
  error_label_->setStyleSheet("color: #b00020;");
  error_label_->hide();
  hover_label_ = new QLabel(this);
  hover_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  prompt_edit_ = new QLineEdit(this);
  prompt_edit_->setObjectName("probe_prompt");
  prompt_edit_->setPlaceholderText(tr("The probe prompt"));
  prompt_edit_->setToolTip(tr("The text whose attention is shown. A new prompt is used by the next refresh "
                              "and by the probes of the run being trained."));
  refresh_button_ = new QPushButton(tr("Refresh"), this);
  refresh_button_->setObjectName("refresh_attention");
  refresh_button_->setToolTip(tr("Compute the maps now, from the model being trained or the loaded model"));
  png_button_ = new QPushButton(tr("Export PNG..."), this);
  csv_button_ = new QPushButton(tr("Export CSV..."), this);

  layer_box_->setRange(0, 0);
  head_box_->setRange(0, 0);
  layer_box_->setToolTip(tr("Layer (from 0)"));
  head_box_->setToolTip(tr("Head (from 0)"));

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(tr("Layer"), this));
  controls->addWidget(layer_box_);
  controls->addWidget(new QLabel(tr("Head"), this));
  controls->addWidget(head_box_);
  controls->addWidget(average_box_);
  controls->addStretch(1);
  controls->addWidget(step_label_);
  controls->addWidget(png_button_);
  controls->addWidget(csv_button_);

  auto* prompt_row = new QHBoxLayout;
  prompt_row->addWidget(new QLabel(tr("Probe prompt"), this));
  prompt_row->addWidget(prompt_edit_, 1);
  prompt_row->addWidget(refresh_button_);

  auto* layout = new QVBoxLayout(this);
  layout->addLayout(prompt_row);
  layout->addLayout(controls);
  layout->addWidget(note_label_);
  layout->addWidget(error_label_);
  layout->addWidget(heatmap_, 1);
  layout->addWidget(hover_label_);

  connect(layer_box_, &QSpinBox::valueChanged, this, [this] { show_selection(); });
  connect(head_box_, &QSpinBox::valueChanged, this, [this] { show_selection(); });
  connect(average_box_, &QCheckBox::toggled, this, [this](bool on) {
    head_box_->setEnabled(!on && maps_.has_value());
    show_selection();
  });
  connect(heatmap_, &HeatmapWidget::hovered, hover_label_, &QLabel::setText);
  auto request_refresh = [this] {
    if (!prompt_edit_->text().isEmpty()) emit refresh_requested(prompt_edit_->text());
  };
  connect(refresh_button_, &QPushButton::clicked, this, request_refresh);
  connect(prompt_edit_, &QLineEdit::returnPressed, this, request_refresh);
  connect(png_button_, &QPushButton::clicked, this, &AttentionView::export_png);
  connect(csv_button_, &QPushButton::clicked, this, &AttentionView::export_csv);
  show_selection();
}

QString AttentionView::probe_prompt() const { return prompt_edit_->text(); }

void AttentionView::set_probe_prompt(const QString& prompt) { prompt_edit_->setText(prompt); }

std::optional<QString> AttentionView::validate(const AttentionMaps& maps) {
  if (maps.num_layers < 1 || maps.num_heads < 1)
    return QString("attention maps need at least one layer and one head (got %1 layers, %2 heads)")
        .arg(maps.num_layers)
        .arg(maps.num_heads);
  if (maps.tokens.empty()) return QString("attention maps have no tokens");
  const auto t = static_cast<int64_t>(maps.tokens.size());
  // Guard the product against overflow before comparing with the size.
  if (maps.num_layers > (int64_t{1} << 20) || maps.num_heads > (int64_t{1} << 20) || t > (int64_t{1} << 20))
    return QString("attention maps are implausibly large (%1 layers, %2 heads, %3 tokens)")
        .arg(maps.num_layers)
        .arg(maps.num_heads)
        .arg(t);
  const int64_t expected = maps.num_layers * maps.num_heads * t * t;
  if (static_cast<int64_t>(maps.weights.size()) != expected)
    return QString("attention maps have %1 weights; %2 layers x %3 heads x %4 x %4 tokens need %5")
        .arg(static_cast<qint64>(maps.weights.size()))
        .arg(maps.num_layers)
        .arg(maps.num_heads)
        .arg(t)
        .arg(expected);
  return std::nullopt;
}

bool AttentionView::set_maps(const AttentionMaps& maps) {
  if (auto problem = validate(maps)) {
    error_label_->setText(tr("Attention maps of step %1 refused: %2").arg(maps.step).arg(*problem));
    error_label_->show();
    return false;
  }
  error_label_->clear();
  error_label_->hide();
  maps_ = maps;
  {
    const QSignalBlocker block_layer(layer_box_);
    const QSignalBlocker block_head(head_box_);
    layer_box_->setRange(0, static_cast<int>(maps.num_layers - 1));
    head_box_->setRange(0, static_cast<int>(maps.num_heads - 1));
  }
  show_selection();
  return true;
}

void AttentionView::set_layer(int layer) { layer_box_->setValue(layer); }
void AttentionView::set_head(int head) { head_box_->setValue(head); }
void AttentionView::set_average_over_heads(bool average) { average_box_->setChecked(average); }
int AttentionView::layer() const { return layer_box_->value(); }
int AttentionView::head() const { return head_box_->value(); }
bool AttentionView::average_over_heads() const { return average_box_->isChecked(); }

QString AttentionView::step_text() const { return step_label_->text(); }
QString AttentionView::note_text() const { return maps_ ? QString() : note_label_->text(); }
QString AttentionView::error_text() const { return error_label_->text(); }
QString AttentionView::hover_text() const { return hover_label_->text(); }

void AttentionView::show_selection() {
  const bool have = maps_.has_value();
  note_label_->setVisible(!have);
  layer_box_->setEnabled(have);
  head_box_->setEnabled(have && !average_box_->isChecked());
  average_box_->setEnabled(have);
  png_button_->setEnabled(have);
  csv_button_->setEnabled(have);
  if (!have) {
    step_label_->setText(tr("No maps"));
    heatmap_->clear();
    return;
  }
  const AttentionMaps& m = *maps_;
  const auto t = static_cast<int>(m.tokens.size());
  const size_t plane = static_cast<size_t>(t) * t;
  const size_t layer_offset = static_cast<size_t>(layer()) * m.num_heads * plane;
  std::vector<float> matrix(plane);
  if (average_over_heads()) {
    for (size_t i = 0; i < plane; ++i) {
      double sum = 0.0;
      for (int64_t h = 0; h < m.num_heads; ++h) sum += m.weights[layer_offset + h * plane + i];
      matrix[i] = static_cast<float>(sum / static_cast<double>(m.num_heads));
    }
  } else {
    const auto* src = m.weights.data() + layer_offset + static_cast<size_t>(head()) * plane;
    std::copy(src, src + plane, matrix.begin());
  }
  QStringList labels;
  for (const auto& token : m.tokens) labels << QString::fromStdString(token);
  heatmap_->set_matrix(t, t, std::move(matrix), labels, labels);
  step_label_->setText(
      tr("Step %1, layer %2, %3")
          .arg(m.step)
          .arg(layer())
          .arg(average_over_heads() ? tr("mean of %1 heads").arg(m.num_heads) : tr("head %1").arg(head())));
}

void AttentionView::export_png() {
  const QString path = QFileDialog::getSaveFileName(this, tr("Export heatmap"), "attention.png", "PNG (*.png)");
  if (!path.isEmpty() && !heatmap_->export_png(path))
    QMessageBox::warning(this, tr("Export failed"), tr("Could not write %1").arg(path));
}

void AttentionView::export_csv() {
  const QString path = QFileDialog::getSaveFileName(this, tr("Export matrix"), "attention.csv", "CSV (*.csv)");
  if (!path.isEmpty() && !heatmap_->export_csv(path))
    QMessageBox::warning(this, tr("Export failed"), tr("Could not write %1").arg(path));
}

}  // namespace minimind
