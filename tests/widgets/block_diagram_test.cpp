// The block diagram labels its boxes with the config's sizes (worked out by hand for the tiny preset) and
// paints them (offscreen).
#include "block_diagram.h"

#include <gtest/gtest.h>

#include <QImage>

#include "config/presets.h"

namespace minimind {
namespace {

TEST(BlockDiagram, LabelsADenseBlockWithItsSizes) {
  BlockDiagram diagram;
  const ModelConfig tiny = preset("tiny");  // hidden 256, 4 layers, 8 heads (2 kv), ffn 704, vocab 6400
  diagram.set_config(tiny);
  EXPECT_EQ(diagram.repeat_label(), "4 \u00d7");
  EXPECT_EQ(diagram.box_labels(),
            (QStringList{"Token embedding 6400 \u00d7 256", "RMSNorm",
                         "Attention: 8 q heads, 2 kv heads, head_dim 32, RoPE", "+ residual", "RMSNorm",
                         "SwiGLU FFN 256 \u2192 704 \u2192 256", "+ residual", "Final RMSNorm",
                         "LM head (tied to the embedding) \u2192 6400 logits"}));
}

TEST(BlockDiagram, ShowsExpertsWithMoeAndPaints) {
  BlockDiagram diagram;
  ModelConfig moe = preset("tiny");
  moe.use_moe = true;
  moe.n_routed_experts = 8;
  moe.num_experts_per_tok = 2;
  moe.n_shared_experts = 1;
  diagram.set_config(moe);
  EXPECT_EQ(diagram.box_labels()[5], "MoE: 8 experts, top-2, 1 shared (SwiGLU 704)");
  diagram.resize(diagram.sizeHint());
  const QImage image = diagram.grab().toImage();
  EXPECT_EQ(image.size(), diagram.sizeHint());
  // Something is painted besides the background: the boxes' fill differs from the corner.
  const QColor corner = image.pixelColor(1, 1);
  bool painted = false;
  for (int y = 0; y < image.height() && !painted; y += 3) painted = image.pixelColor(image.width() / 2, y) != corner;
  EXPECT_TRUE(painted);
}

TEST(BlockDiagram, ToleratesAConfigBeingEdited) {
  BlockDiagram diagram;
  ModelConfig broken = preset("tiny");
  broken.num_attention_heads = 0;  // mid-edit: no head_dim to show
  diagram.set_config(broken);
  EXPECT_TRUE(diagram.box_labels()[2].contains("head_dim ?"));
  diagram.resize(300, 400);
  diagram.grab();
}

}  // namespace
}  // namespace minimind
