// Tensor views and argument checks (reference: the definitions themselves).
#include "tensor/tensor.h"

#include <gtest/gtest.h>

namespace minimind {
namespace {

TEST(Tensor, ViewsShareStorageWithoutCopies) {
  Tensor t = Tensor::zeros({4, 3}, DType::f32);
  Tensor middle = t.rows(1, 3);
  EXPECT_EQ(middle.shape(), (Shape{2, 3}));
  middle.data<float>()[0] = 7.0f;
  EXPECT_EQ(t.data<float>()[3], 7.0f);
  Tensor flat = t.flat(5, {2});
  flat.data<float>()[1] = 2.0f;
  EXPECT_EQ(t.data<float>()[6], 2.0f);
  EXPECT_EQ(t.view({12}).numel(), 12);
}

TEST(Tensor, RefusesBadViewsAndWrongElementTypes) {
  Tensor t = Tensor::zeros({4, 3}, DType::f32);
  EXPECT_THROW(t.view({5, 3}), std::invalid_argument);
  EXPECT_THROW(t.rows(2, 5), std::out_of_range);
  EXPECT_THROW(t.flat(10, {3}), std::out_of_range);
  EXPECT_THROW(t.data<double>(), std::invalid_argument);
  EXPECT_THROW(t.dim(2), std::out_of_range);
  EXPECT_EQ(t.dim(-1), 3);
}

TEST(Tensor, ArgumentChecksNameTheArgument) {
  Tensor t = Tensor::zeros({2, 2}, DType::f32);
  try {
    expect_shape(t, {2, 3}, "rmsnorm_forward", "weight");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("rmsnorm_forward: argument 'weight' should have shape [2, 3]"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace minimind
