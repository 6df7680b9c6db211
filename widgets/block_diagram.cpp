// The block diagram: boxes in a column joined by arrows, the decoder block framed with its repeat count.
#include "block_diagram.h"

#include <QPainter>
#include <QPainterPath>

namespace minimind {

namespace {
constexpr int kBoxHeight = 26;
constexpr int kGap = 10;
constexpr int kMargin = 8;
constexpr int kFrameIndent = 18;  // the decoder frame sits around its boxes, its label to the left
}  // namespace

BlockDiagram::BlockDiagram(QWidget* parent) : QWidget(parent) {
  setToolTip(tr("The network one token goes through, from the token id to the next-token logits"));
  set_config(ModelConfig{});
}

void BlockDiagram::set_config(const ModelConfig& c) {
  // Sizes may be anything while a form is being edited: head_dim only when it is defined.
  const QString head_dim = c.num_attention_heads > 0 ? QString::number(c.hidden_size / c.num_attention_heads)
                                                     : QStringLiteral("?");
  const QString ffn = c.intermediate_size || c.hidden_size > 0 ? QString::number(c.ffn_size()) : "?";
  QString mlp;
  if (c.use_moe) {
    mlp = tr("MoE: %1 experts, top-%2, %3 shared (SwiGLU %4)")
              .arg(c.n_routed_experts)
              .arg(c.num_experts_per_tok)
              .arg(c.n_shared_experts)
              .arg(ffn);
  } else {
    mlp = tr("SwiGLU FFN %1 \u2192 %2 \u2192 %1").arg(c.hidden_size).arg(ffn);
  }
  boxes_ = {tr("Token embedding %1 \u00d7 %2").arg(c.vocab_size).arg(c.hidden_size),
            tr("RMSNorm"),
            tr("Attention: %1 q heads, %2 kv heads, head_dim %3, RoPE")
                .arg(c.num_attention_heads)
                .arg(c.num_key_value_heads)
                .arg(head_dim),
            tr("+ residual"),
            tr("RMSNorm"),
            mlp,
            tr("+ residual"),
            tr("Final RMSNorm"),
            c.tie_word_embeddings ? tr("LM head (tied to the embedding) \u2192 %1 logits").arg(c.vocab_size)
                                  : tr("LM head \u2192 %1 logits").arg(c.vocab_size)};
  first_repeated_ = 1;
  last_repeated_ = 6;
  repeat_ = tr("%1 \u00d7").arg(c.num_hidden_layers);
  updateGeometry();
  update();
}

QSize BlockDiagram::sizeHint() const {
  return {340, 2 * kMargin + static_cast<int>(boxes_.size()) * (kBoxHeight + kGap) + kGap};
}

QSize BlockDiagram::minimumSizeHint() const { return {240, sizeHint().height()}; }

void BlockDiagram::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  painter.setRenderHint(QPainter::Antialiasing);
  const QPalette colors = palette();
  painter.fillRect(rect(), colors.base());
  const int left = kMargin + kFrameIndent + 24, right = width() - kMargin - kFrameIndent;
  const int box_width = std::max(60, right - left);
  auto box_top = [&](int index) { return kMargin + kGap + index * (kBoxHeight + kGap); };

  // The repeated block's frame and its count.
  const QRect frame(left - kFrameIndent, box_top(first_repeated_) - kGap / 2, box_width + 2 * kFrameIndent,
                    box_top(last_repeated_) + kBoxHeight + kGap / 2 - (box_top(first_repeated_) - kGap / 2));
  painter.setPen(QPen(colors.color(QPalette::Mid), 1, Qt::DashLine));
  painter.setBrush(Qt::NoBrush);
  painter.drawRoundedRect(frame, 6, 6);
  painter.setPen(colors.color(QPalette::Text));
  QFont bold = font();
  bold.setBold(true);
  painter.setFont(bold);
  painter.drawText(QRect(kMargin, frame.top(), frame.left() - kMargin - 2, frame.height()),
                   Qt::AlignRight | Qt::AlignVCenter, repeat_);
  painter.setFont(font());

  for (int i = 0; i < boxes_.size(); ++i) {
    const QString& text = boxes_[i];
    const bool residual = text.startsWith('+');
    const QRect box(left, box_top(i), box_width, kBoxHeight);
    QColor fill = residual ? QColor(0xE8, 0xF5, 0xE9) : QColor(0xE3, 0xF2, 0xFD);
    if (text.startsWith("MoE")) fill = QColor(0xFF, 0xF3, 0xE0);
    if (text.startsWith(tr("Attention"))) fill = QColor(0xF3, 0xE5, 0xF5);
    painter.setPen(QColor(0x60, 0x60, 0x60));
    painter.setBrush(fill);
    painter.drawRoundedRect(box, 4, 4);
    painter.setPen(Qt::black);
    painter.drawText(box.adjusted(4, 0, -4, 0), Qt::AlignCenter,
                     painter.fontMetrics().elidedText(text, Qt::ElideRight, box.width() - 8));
    if (i + 1 < boxes_.size()) {  // the arrow to the next box
      const int x = box.center().x(), y0 = box.bottom() + 1, y1 = box_top(i + 1) - 1;
      painter.setPen(QColor(0x60, 0x60, 0x60));
      painter.drawLine(x, y0, x, y1);
      painter.drawLine(x, y1, x - 3, y1 - 4);
      painter.drawLine(x, y1, x + 3, y1 - 4);
    }
  }
}

}  // namespace minimind
