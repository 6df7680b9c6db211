// A small painted diagram of the MiniMind network for one config: the embedding, the repeated decoder block
// (RMSNorm, grouped-query attention, residual, RMSNorm, SwiGLU feed-forward or MoE, residual), the final
// norm and the tied LM head, each box labelled with its sizes. Redrawn whenever a config is pushed in.
#pragma once

#include <QStringList>
#include <QWidget>

#include "config/model_config.h"

namespace minimind {

class BlockDiagram : public QWidget {
  Q_OBJECT
 public:
  explicit BlockDiagram(QWidget* parent = nullptr);
  void set_config(const ModelConfig& config);
  // The text of every box from top to bottom, and the repeat label; what the painting shows, for tests.
  QStringList box_labels() const { return boxes_; }
  QString repeat_label() const { return repeat_; }
  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  QStringList boxes_;
  int first_repeated_ = 0, last_repeated_ = 0;  // the boxes inside the N x bracket
  QString repeat_;
};

}  // namespace minimind
