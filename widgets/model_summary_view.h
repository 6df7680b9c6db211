// Shows what a model configuration is and costs: its shape, parameter count, training FLOPs per token and
// memory at a batch and sequence length. The values are pushed in; the view computes nothing itself.
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
  qint64 weights_bytes = 0, gradients_bytes = 0, optimizer_bytes = 0, activations_bytes = 0;
};

// The figures for `config` trained at `batch` x `seq_len`, from core's estimates (the memory of the
// activation plan the model would allocate). Throws what the estimates throw on an invalid config or a
// seq_len beyond max_position_embeddings.
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
