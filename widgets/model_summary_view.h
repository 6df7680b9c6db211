// Shows what a model configuration is and costs: its shape, parameter count, training FLOPs per token, memory
// at a batch and sequence length, and whether that fits in the memory available. The values are pushed in;
// the view computes nothing itself. Sizes read in binary units (format_bytes), up to TiB and beyond.
#pragma once

#include <QWidget>

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
  qint64 weights_bytes = 0, rope_tables_bytes = 0, gradients_bytes = 0, optimizer_bytes = 0,
         activations_bytes = 0;
  // The memory check (filled by whoever ran it; available_bytes < 0: not checked): the total with the safety
  // margin, and what is available and where that figure comes from.
  qint64 needed_bytes = 0;
  qint64 available_bytes = -1;
  QString available_source;
};

// The figures for `config` trained at `batch` x `seq_len`, from core's estimates (training_memory: the
// buffers the trainer allocates, its activation plan included); the memory check is left unset. Throws what
// the estimates throw on an invalid config or a seq_len beyond max_position_embeddings.
ModelSummary summarize(const ModelConfig& config, qint64 batch, qint64 seq_len);

class ModelSummaryView : public QWidget {
  Q_OBJECT
 public:
  explicit ModelSummaryView(QWidget* parent = nullptr);
  void show_summary(const ModelSummary& summary);
  QString field_text(const QString& field) const;  // the shown text of a row, for tests

 private:
  QFormLayout* form_;
  QHash<QString, QLabel*> values_;
};

}  // namespace minimind
