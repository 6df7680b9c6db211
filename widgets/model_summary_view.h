// Shows what a model configuration is and costs: its shape, parameter count, training FLOPs per token, memory
// at a batch and sequence length on the device it trains on, and whether that fits in the memory available.
// The values are pushed in; the view computes nothing itself. Sizes read in binary units (format_bytes), up
// to TiB and beyond. The rows a device does not have (the compute copy of the weights, a GPU's buffers) are
// hidden.
#pragma once

#include <QWidget>

#include "config/estimates.h"
#include "config/model_config.h"

class QLabel;
class QFormLayout;

namespace minimind {

struct ModelSummary {
  QString shape;              // "hidden 256, 4 layers, 8 heads (2 kv), ffn 704, vocab 6400"
  double total_parameters = 0;
  double active_parameters = 0;
  double flops_per_token = 0;  // training, at seq_len
  qint64 batch = 0, seq_len = 0;
  QString device = QStringLiteral("cpu");  // where the memory is held: "cpu", "cuda:0"
  QString precision;                       // "f32", "bf16 compute, f32 master weights and optimizer state"
  qint64 weights_bytes = 0, compute_weights_bytes = 0, rope_tables_bytes = 0, gradients_bytes = 0,
         optimizer_bytes = 0, activations_bytes = 0, gpu_buffers_bytes = 0;
  // The memory check (filled by whoever ran it; available_bytes < 0: not checked): the total with the safety
  // margin, and what is available and where that figure comes from.
  qint64 needed_bytes = 0;
  qint64 available_bytes = -1;
  QString available_source;
};

// The figures for `config` trained at `batch` x `seq_len` on `target`, from core's estimates
// (training_memory: the buffers the trainer allocates, its activation plan included); the device name and the
// memory check are left unset. Throws what the estimates throw on an invalid config or a seq_len beyond
// max_position_embeddings.
ModelSummary summarize(const ModelConfig& config, qint64 batch, qint64 seq_len,
                       const MemoryTarget& target = {});

class ModelSummaryView : public QWidget {
  Q_OBJECT
 public:
  explicit ModelSummaryView(QWidget* parent = nullptr);
  void show_summary(const ModelSummary& summary);
  QString field_text(const QString& field) const;  // the shown text of a row, for tests
  bool shows(const QString& field) const;          // whether the row is shown

 private:
  QFormLayout* form_;
  QHash<QString, QLabel*> values_;
};

}  // namespace minimind
