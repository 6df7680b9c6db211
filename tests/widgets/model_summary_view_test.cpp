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
}

}  // namespace
}  // namespace minimind
