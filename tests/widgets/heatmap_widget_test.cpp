// The heatmap's value range and stretched cells: colours follow the range (checked on the painted pixels),
// and with stretched cells the grid fills the widget while cell_at and cell_rect stay each other's inverse
// (offscreen platform).
#include "heatmap_widget.h"

#include <gtest/gtest.h>

#include <QImage>
#include <stdexcept>

namespace minimind {
namespace {

TEST(HeatmapWidget, ColoursFollowTheValueRange) {
  HeatmapWidget heatmap;
  heatmap.set_causal_mask(false);
  heatmap.resize(400, 300);
  heatmap.set_matrix(1, 2, {1.0f, 2.0f}, {}, {});
  heatmap.set_value_range(0, 2);
  const QImage image = heatmap.grab().toImage();
  const QRect half = heatmap.cell_rect(0, 0), full = heatmap.cell_rect(0, 1);
  EXPECT_EQ(image.pixelColor(half.center()), HeatmapWidget::colour_for(0.5f));
  EXPECT_EQ(image.pixelColor(full.center()), HeatmapWidget::colour_for(1.0f));
  EXPECT_THROW(heatmap.set_value_range(1, 1), std::invalid_argument);
  EXPECT_EQ(heatmap.range_high(), 2);  // unchanged by the refused range
}

TEST(HeatmapWidget, StretchedCellsFillTheWidgetAndMapBack) {
  HeatmapWidget heatmap;
  heatmap.set_causal_mask(false);
  heatmap.resize(800, 400);
  heatmap.set_matrix(3, 300, std::vector<float>(900, 0.5f), {}, {});
  // Square cells: 300 columns leave at most 2 pixels per cell, so 3 rows are at most 6 pixels tall.
  EXPECT_LE(heatmap.cell_rect(2, 0).bottom() - heatmap.cell_rect(0, 0).top(), 6);
  heatmap.set_square_cells(false);
  EXPECT_GT(heatmap.cell_rect(0, 0).height(), 50);  // the rows now share the widget's height
  for (auto [row, col] : {std::pair{0, 0}, {1, 150}, {2, 299}, {2, 7}}) {
    const QRect rect = heatmap.cell_rect(row, col);
    ASSERT_FALSE(rect.isEmpty()) << row << "," << col;
    const auto cell = heatmap.cell_at(rect.center());
    ASSERT_TRUE(cell.has_value());
    EXPECT_EQ(*cell, (HeatmapWidget::Cell{row, col}));
  }
  EXPECT_EQ(heatmap.cell_rect(0, 1).left(), heatmap.cell_rect(0, 0).right() + 1);  // no gaps
}

}  // namespace
}  // namespace minimind
