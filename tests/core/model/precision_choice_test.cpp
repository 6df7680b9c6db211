// Precision by name against what a backend computes in. Reference: the CPU backend computes in f32 and f64,
// not bf16 (Backend::supports_compute), so auto is f32 there and bf16 is refused naming the device.
#include "model/precision_choice.h"

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"

namespace minimind {
namespace {

TEST(PrecisionChoice, AutoIsF32OnTheCpuAndBf16IsRefusedThere) {
  CpuBackend backend(1);
  EXPECT_EQ(choose_precision("auto", backend), Precision::f32());
  EXPECT_EQ(default_precision(backend), Precision::f32());
  EXPECT_EQ(choose_precision("f32", backend), Precision::f32());
  try {
    choose_precision("bf16", backend);
    FAIL() << "bf16 accepted on the CPU";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("bf16"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cpu"), std::string::npos) << e.what();
  }
  try {
    choose_precision("fp16", backend);
    FAIL() << "an unknown name accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("auto, f32 or bf16"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(is_precision_choice("bf16"));
  EXPECT_FALSE(is_precision_choice("f64"));  // gradient checks build their model directly
}

}  // namespace
}  // namespace minimind
