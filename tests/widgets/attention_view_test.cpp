// The attention view and its heatmap against hand-written maps (offscreen platform). Reference: the weights
// written out below by hand; the head mean is computed by hand in the expectations, not by the code's loop.
#include "attention_view.h"
#include "heatmap_widget.h"

#include <gtest/gtest.h>

#include <QApplication>
#include <QFile>
#include <QMouseEvent>
#include <QImage>
#include <QTemporaryDir>
#include <QTextStream>

namespace minimind {
namespace {

// 2 layers, 2 heads, 3 tokens; each row of each causal matrix sums to one.
AttentionMaps small_maps() {
  AttentionMaps m;
  m.step = 120;
  m.num_layers = 2;
  m.num_heads = 2;
  m.tokens = {"<s>", "hello", "world"};
  m.weights = {
      // layer 0, head 0
      1.0f, 0.0f, 0.0f,  0.6f, 0.4f, 0.0f,  0.2f, 0.3f, 0.5f,
      // layer 0, head 1
      1.0f, 0.0f, 0.0f,  0.1f, 0.9f, 0.0f,  0.7f, 0.2f, 0.1f,
      // layer 1, head 0
      1.0f, 0.0f, 0.0f,  0.25f, 0.75f, 0.0f,  0.4f, 0.4f, 0.2f,
      // layer 1, head 1
      1.0f, 0.0f, 0.0f,  0.75f, 0.25f, 0.0f,  0.0f, 0.2f, 0.8f,
  };
  return m;
}

void expect_matrix(const HeatmapWidget& h, const std::vector<std::vector<float>>& expected) {
  ASSERT_EQ(h.rows(), static_cast<int>(expected.size()));
  for (int r = 0; r < h.rows(); ++r) {
    ASSERT_EQ(h.cols(), static_cast<int>(expected[r].size()));
    for (int c = 0; c < h.cols(); ++c) EXPECT_FLOAT_EQ(h.value_at(r, c), expected[r][c]) << r << "," << c;
  }
}

TEST(AttentionView, NoteUntilMapsArrive) {
  AttentionView view;
  EXPECT_FALSE(view.has_maps());
  EXPECT_TRUE(view.note_text().contains("No attention maps yet"));
  EXPECT_EQ(view.heatmap()->rows(), 0);
  ASSERT_TRUE(view.set_maps(small_maps()));
  EXPECT_TRUE(view.note_text().isEmpty());
  EXPECT_TRUE(view.step_text().contains("Step 120"));
}

TEST(AttentionView, SelectedLayerAndHeadShowExactlyThatMatrix) {
  AttentionView view;
  ASSERT_TRUE(view.set_maps(small_maps()));
  expect_matrix(*view.heatmap(), {{1, 0, 0}, {0.6f, 0.4f, 0}, {0.2f, 0.3f, 0.5f}});  // layer 0 head 0 first
  view.set_layer(1);
  view.set_head(0);
  expect_matrix(*view.heatmap(), {{1, 0, 0}, {0.25f, 0.75f, 0}, {0.4f, 0.4f, 0.2f}});
  view.set_head(1);
  expect_matrix(*view.heatmap(), {{1, 0, 0}, {0.75f, 0.25f, 0}, {0.0f, 0.2f, 0.8f}});
  EXPECT_TRUE(view.step_text().contains("layer 1"));
  EXPECT_TRUE(view.step_text().contains("head 1"));
  // Out-of-range selections are clamped by the selectors, never read past the maps.
  view.set_layer(7);
  EXPECT_EQ(view.layer(), 1);
}

TEST(AttentionView, AverageOverHeadsIsTheElementwiseMean) {
  AttentionView view;
  ASSERT_TRUE(view.set_maps(small_maps()));
  view.set_average_over_heads(true);
  expect_matrix(*view.heatmap(), {{1, 0, 0}, {0.35f, 0.65f, 0}, {0.45f, 0.25f, 0.3f}});  // layer 0
  view.set_layer(1);
  expect_matrix(*view.heatmap(), {{1, 0, 0}, {0.5f, 0.5f, 0}, {0.2f, 0.3f, 0.5f}});
  EXPECT_TRUE(view.step_text().contains("mean of 2 heads"));
  view.set_average_over_heads(false);
  view.set_head(1);
  EXPECT_FLOAT_EQ(view.heatmap()->value_at(2, 2), 0.8f);
}

TEST(AttentionView, TokensLabelTheAxesAndHoverReadsTheWeight) {
  AttentionView view;
  ASSERT_TRUE(view.set_maps(small_maps()));
  const HeatmapWidget& h = *view.heatmap();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(h.row_label(i), QString::fromStdString(small_maps().tokens[i]));
    EXPECT_EQ(h.col_label(i), QString::fromStdString(small_maps().tokens[i]));
  }
  EXPECT_EQ(h.hover_text(2, 1), "query world -> key hello: 0.3000");
  EXPECT_EQ(h.hover_text(0, 2), "query <s> -> key world: masked");
  EXPECT_TRUE(h.masked(0, 1));
  EXPECT_FALSE(h.masked(1, 0));
}

TEST(HeatmapWidget, CellAtMapsPointsInsideCellsAndNothingOutside) {
  HeatmapWidget h;
  h.resize(400, 300);
  h.set_matrix(3, 3, {1, 0, 0, 0.5f, 0.5f, 0, 0.2f, 0.3f, 0.5f}, {"a", "b", "c"}, {"a", "b", "c"});
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) {
      const QRect rect = h.cell_rect(r, c);
      ASSERT_FALSE(rect.isEmpty());
      for (const QPoint p : {rect.center(), rect.topLeft(), rect.bottomRight()}) {
        const auto cell = h.cell_at(p);
        ASSERT_TRUE(cell.has_value()) << r << "," << c;
        EXPECT_EQ(cell->row, r);
        EXPECT_EQ(cell->col, c);
      }
    }
  }
  EXPECT_FALSE(h.cell_at(QPoint(1, 1)).has_value());  // the label margin
  EXPECT_FALSE(h.cell_at(h.cell_rect(2, 2).bottomRight() + QPoint(1, 1)).has_value());

  // A pointer moving over a cell announces it; moving off the matrix clears the read-out.
  QString announced = "unset";
  QObject::connect(&h, &HeatmapWidget::hovered, [&](const QString& text) { announced = text; });
  auto move_to = [&](QPoint local) {
    QMouseEvent move(QEvent::MouseMove, QPointF(local), QPointF(h.mapToGlobal(local)), Qt::NoButton,
                     Qt::NoButton, Qt::NoModifier);
    QApplication::sendEvent(&h, &move);
  };
  move_to(h.cell_rect(2, 1).center());
  EXPECT_EQ(announced, "query c -> key b: 0.3000");
  EXPECT_EQ(h.last_hover_text(), announced);
  move_to(QPoint(1, 1));
  EXPECT_TRUE(announced.isEmpty());
}

TEST(HeatmapWidget, PaintsTheColourmapAndMaskFromTheCachedImage) {
  HeatmapWidget h;
  h.resize(400, 300);
  h.set_matrix(2, 2, {0.0f, 0.7f, 1.0f, 1.0f}, {"x", "y"}, {"x", "y"});
  const QImage shot = h.grab().toImage();
  auto pixel = [&](int r, int c) { return QColor(shot.pixel(h.cell_rect(r, c).center())); };
  EXPECT_EQ(pixel(0, 0), HeatmapWidget::colour_for(0.0f));
  EXPECT_EQ(pixel(1, 1), HeatmapWidget::colour_for(1.0f));
  EXPECT_NE(pixel(0, 1), HeatmapWidget::colour_for(0.7f));  // masked: background, not the value's colour
  EXPECT_EQ(HeatmapWidget::colour_for(0.0f), QColor(68, 1, 84));
  EXPECT_EQ(HeatmapWidget::colour_for(1.0f), QColor(253, 231, 37));
  EXPECT_EQ(HeatmapWidget::colour_for(2.0f), QColor(253, 231, 37));  // clamped
}

TEST(AttentionView, CsvExportWritesTheShownMatrix) {
  AttentionView view;
  ASSERT_TRUE(view.set_maps(small_maps()));
  view.set_layer(1);
  view.set_average_over_heads(true);
  QTemporaryDir dir;
  ASSERT_TRUE(dir.isValid());
  const QString csv = dir.filePath("attention.csv");
  ASSERT_TRUE(view.heatmap()->export_csv(csv));
  QFile file(csv);
  ASSERT_TRUE(file.open(QIODevice::ReadOnly | QIODevice::Text));
  const QStringList lines = QTextStream(&file).readAll().split('\n', Qt::SkipEmptyParts);
  ASSERT_EQ(lines.size(), 4);
  EXPECT_EQ(lines[0], "query\\key,<s>,hello,world");
  EXPECT_EQ(lines[1], "<s>,1,0,0");
  EXPECT_EQ(lines[2], "hello,0.5,0.5,0");
  const QStringList last = lines[3].split(',');
  ASSERT_EQ(last.size(), 4);
  EXPECT_EQ(last[0], "world");
  EXPECT_FLOAT_EQ(last[1].toFloat(), 0.2f);
  EXPECT_FLOAT_EQ(last[2].toFloat(), 0.3f);
  EXPECT_FLOAT_EQ(last[3].toFloat(), 0.5f);

  const QString png = dir.filePath("attention.png");
  view.resize(600, 500);
  ASSERT_TRUE(view.heatmap()->export_png(png));
  EXPECT_FALSE(QImage(png).isNull());
}

TEST(AttentionView, InconsistentMapsAreRefusedWithAMessage) {
  AttentionView view;
  ASSERT_TRUE(view.set_maps(small_maps()));
  AttentionMaps bad = small_maps();
  bad.step = 200;
  bad.weights.pop_back();
  EXPECT_FALSE(view.set_maps(bad));
  EXPECT_TRUE(view.error_text().contains("35 weights")) << view.error_text().toStdString();
  EXPECT_TRUE(view.error_text().contains("need 36")) << view.error_text().toStdString();
  EXPECT_TRUE(view.step_text().contains("Step 120"));  // the previous maps stay shown
  EXPECT_FLOAT_EQ(view.heatmap()->value_at(1, 0), 0.6f);

  AttentionMaps no_heads = small_maps();
  no_heads.num_heads = 0;
  EXPECT_FALSE(view.set_maps(no_heads));
  EXPECT_TRUE(view.error_text().contains("at least one layer and one head"));
  AttentionMaps no_tokens = small_maps();
  no_tokens.tokens.clear();
  EXPECT_FALSE(view.set_maps(no_tokens));
  EXPECT_TRUE(view.error_text().contains("no tokens"));

  ASSERT_TRUE(view.set_maps(small_maps()));
  EXPECT_TRUE(view.error_text().isEmpty());

  HeatmapWidget h;
  EXPECT_THROW(h.set_matrix(2, 2, {1, 2, 3}, {}, {}), std::invalid_argument);
  EXPECT_THROW(h.set_matrix(2, 2, {1, 2, 3, 4}, {"a"}, {"a", "b"}), std::invalid_argument);
  EXPECT_THROW((void)h.value_at(0, 0), std::out_of_range);
}

}  // namespace
}  // namespace minimind
