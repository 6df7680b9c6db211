// The model summary view shows the figures pushed into it (offscreen platform).
#include "model_summary_view.h"

#include <gtest/gtest.h>

namespace minimind {
namespace {

TEST(ModelSummaryView, ShowsPushedFigures) {
  ModelSummaryView view;
  ModelSummary s;
  s.shape = "hidden 256, 4 layers";
  s.total_parameters = 4.75e6;
  s.active_parameters = 4.75e6;
  s.flops_per_token = 31.5e6;
  s.batch = 8;
  s.seq_len = 256;
  s.weights_bytes = 19 * 1048576LL;
  s.gradients_bytes = 19 * 1048576LL;
  s.optimizer_bytes = 38 * 1048576LL;
  s.activations_bytes = 100 * 1048576LL;
  view.show_summary(s);
  EXPECT_EQ(view.field_text("Shape"), "hidden 256, 4 layers");
  EXPECT_EQ(view.field_text("Parameters"), "4.75 M");
  EXPECT_EQ(view.field_text("Total memory"), "176.0 MiB");
  EXPECT_TRUE(view.field_text("Activations").contains("batch 8 x 256"));
  EXPECT_EQ(view.field_text("Available memory"), "not checked");
}

TEST(ModelSummaryView, SizesReadInBinaryUnitsUpToTiB) {
  // The issue: the cost panel showed "36956100.0 MiB". That is 35.2 TiB.
  ModelSummaryView view;
  ModelSummary s;
  s.batch = 64;
  s.seq_len = 4096;
  s.weights_bytes = 512;
  s.activations_bytes = 36'956'100LL * 1048576;
  s.needed_bytes = 40LL << 40;
  s.available_bytes = 21LL << 30;
  s.available_source = "MemAvailable";
  view.show_summary(s);
  EXPECT_EQ(view.field_text("Weights"), "512 B");
  EXPECT_EQ(view.field_text("Activations"), "35.2 TiB at batch 64 x 4096");
  EXPECT_EQ(view.field_text("Total memory"), "35.2 TiB");
  EXPECT_EQ(view.field_text("Available memory"),
            "21.0 GiB (MemAvailable); 40.0 TiB with the safety margin does not fit");
  s.needed_bytes = 20LL << 30;
  view.show_summary(s);
  EXPECT_EQ(view.field_text("Available memory"),
            "21.0 GiB (MemAvailable); 20.0 GiB with the safety margin fits");
}

}  // namespace
}  // namespace minimind
