// The model summary: one form row per figure.
#include "model_summary_view.h"

#include <QFormLayout>
#include <QLabel>

#include "config/estimates.h"
#include "model/memory_plan.h"
#include "text/byte_size.h"

namespace minimind {

namespace {

// "f32" on the CPU; "bf16 compute, f32 master weights" for mixed precision.
QString precision_text(const Precision& p) {
  const QString compute = QString::fromUtf8(dtype_name(p.compute));
  if (!p.separate_compute_weights()) return compute;
  return QObject::tr("%1 compute, %2 master weights").arg(compute, QString::fromUtf8(dtype_name(p.master())));
}

}  // namespace

ModelSummary summarize(const ModelConfig& c, qint64 batch, qint64 seq_len, const MemoryTarget& target) {
  const ParameterCount params = count_parameters(c);
  const MemoryEstimate memory = training_memory(c, batch, seq_len, target);
  ModelSummary s;
  s.shape = QString("hidden %1, %2 layers, %3 heads (%4 kv), ffn %5, vocab %6%7")
                .arg(c.hidden_size)
                .arg(c.num_hidden_layers)
                .arg(c.num_attention_heads)
                .arg(c.num_key_value_heads)
                .arg(c.ffn_size())
                .arg(c.vocab_size)
                .arg(c.use_moe ? QString(", MoE %1 experts, top-%2").arg(c.n_routed_experts).arg(c.num_experts_per_tok)
                               : QString());
  s.total_parameters = static_cast<double>(params.total);
  s.active_parameters = static_cast<double>(params.active);
  s.flops_per_token = training_flops_per_token(c, seq_len);
  s.batch = batch;
  s.seq_len = seq_len;
  s.precision = precision_text(target.precision);
  s.weights_bytes = memory.weights_bytes;
  s.compute_weights_bytes = memory.compute_weights_bytes;
  s.rope_tables_bytes = memory.rope_tables_bytes;
  s.gradients_bytes = memory.gradients_bytes;
  s.optimizer_bytes = memory.optimizer_bytes;
  s.activations_bytes = memory.activations_bytes;
  s.gpu_buffers_bytes = memory.gpu_buffers_bytes;
  return s;
}

namespace {
QString megas(double count) { return QString::number(count / 1e6, 'f', 2) + " M"; }
QString bytes_text(qint64 bytes) {
  return QString::fromStdString(format_bytes(bytes));
}
}  // namespace

ModelSummaryView::ModelSummaryView(QWidget* parent) : QWidget(parent), form_(new QFormLayout(this)) {
  for (const char* field : {"Shape", "Parameters", "Active per token", "Training FLOPs per token", "Device",
                            "Weights", "Compute weights", "RoPE tables", "Gradients", "AdamW state",
                            "Activations", "GPU buffers", "Total memory", "Available memory"}) {
    auto* value = new QLabel(this);
    value->setTextInteractionFlags(Qt::TextSelectableByMouse);
    value->setWordWrap(true);
    form_->addRow(QString(field) + ":", value);
    values_.insert(field, value);
  }
}

void ModelSummaryView::show_summary(const ModelSummary& s) {
  values_["Shape"]->setText(s.shape);
  values_["Parameters"]->setText(megas(s.total_parameters));
  values_["Active per token"]->setText(megas(s.active_parameters));
  values_["Training FLOPs per token"]->setText(QString::number(s.flops_per_token / 1e6, 'f', 1) + " MFLOP at " +
                                               QString::number(s.seq_len) + " tokens of context");
  values_["Device"]->setText(s.precision.isEmpty() ? s.device : s.device + ", " + s.precision);
  values_["Weights"]->setText(bytes_text(s.weights_bytes));
  values_["Compute weights"]->setText(bytes_text(s.compute_weights_bytes));
  form_->setRowVisible(values_["Compute weights"], s.compute_weights_bytes > 0);
  values_["RoPE tables"]->setText(bytes_text(s.rope_tables_bytes));
  values_["Gradients"]->setText(bytes_text(s.gradients_bytes));
  values_["AdamW state"]->setText(bytes_text(s.optimizer_bytes));
  values_["Activations"]->setText(bytes_text(s.activations_bytes) + " at batch " + QString::number(s.batch) +
                                  " x " + QString::number(s.seq_len));
  values_["GPU buffers"]->setText(bytes_text(s.gpu_buffers_bytes));
  form_->setRowVisible(values_["GPU buffers"], s.gpu_buffers_bytes > 0);
  MemoryEstimate parts;  // summed as core sums them (saturating)
  parts.weights_bytes = s.weights_bytes;
  parts.compute_weights_bytes = s.compute_weights_bytes;
  parts.rope_tables_bytes = s.rope_tables_bytes;
  parts.gradients_bytes = s.gradients_bytes;
  parts.optimizer_bytes = s.optimizer_bytes;
  parts.activations_bytes = s.activations_bytes;
  parts.gpu_buffers_bytes = s.gpu_buffers_bytes;
  values_["Total memory"]->setText(bytes_text(parts.total()));

  QLabel* available = values_["Available memory"];
  if (s.available_bytes < 0) {
    available->setText(tr("not checked"));
    available->setStyleSheet(QString());
    return;
  }
  const bool fits = s.needed_bytes <= s.available_bytes;
  available->setText(tr("%1 (%2); %3 with the safety margin %4")
                         .arg(bytes_text(s.available_bytes), s.available_source, bytes_text(s.needed_bytes),
                              fits ? tr("fits") : tr("does not fit")));
  available->setStyleSheet(fits ? "color: #2e7d32;" : "color: #c62828;");
}

QString ModelSummaryView::field_text(const QString& field) const {
  const QLabel* label = values_.value(field);
  return label ? label->text() : QString();
}

bool ModelSummaryView::shows(const QString& field) const {
  const QLabel* label = values_.value(field);
  return label && !label->isHidden();  // hidden by setRowVisible, whether or not the view is on screen
}

}  // namespace minimind
