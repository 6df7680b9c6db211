// Reference: the closed forms of each schedule, written out here independently of lr_schedule.cpp, and
// hand-computed values at a few steps (tolerance 1e-12 relative).
#include "train/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

namespace minimind {
namespace {

constexpr double kPi = 3.14159265358979323846;

ScheduleConfig config_of(ScheduleKind kind) {
  ScheduleConfig config;
  config.kind = kind;
  config.learning_rate = 1e-3;
  config.total_steps = 100;
  return config;
}

TEST(LrSchedule, ConstantIsTheRateEverywhere) {
  const auto curve = schedule_curve(config_of(ScheduleKind::constant));
  ASSERT_EQ(curve.size(), 100u);
  for (double value : curve) EXPECT_EQ(value, 1e-3);
}

TEST(LrSchedule, WarmupCosineMatchesClosedForm) {
  ScheduleConfig config = config_of(ScheduleKind::warmup_cosine);
  config.warmup_steps = 10;
  config.min_learning_rate = 1e-4;
  const auto curve = schedule_curve(config);
  for (int step = 0; step < 100; ++step) {
    double expected;
    if (step < 10) {
      expected = 1e-3 * (step + 1) / 10.0;
    } else {
      const double progress = (step - 10) / 90.0;
      expected = 1e-4 + 0.9e-3 * 0.5 * (1 + std::cos(kPi * progress));
    }
    EXPECT_NEAR(curve[step], expected, 1e-15) << "step " << step;
  }
  EXPECT_NEAR(curve[0], 1e-4, 1e-18);                       // lr / warmup at step 0
  EXPECT_NEAR(curve[9], 1e-3, 1e-18);                       // end of warmup reaches lr
  EXPECT_NEAR(curve[10], 1e-3, 1e-18);                      // cosine starts at lr
  EXPECT_NEAR(curve[55], 1e-4 + 0.45e-3, 1e-15);            // halfway through the decay: the midpoint
  EXPECT_NEAR(learning_rate_at(config, 100), 1e-4, 1e-18);  // past the end: holds the minimum
  EXPECT_NEAR(learning_rate_at(config, 1000), 1e-4, 1e-18);
}

TEST(LrSchedule, CosineWithoutWarmupStartsAtTheRate) {
  ScheduleConfig config = config_of(ScheduleKind::warmup_cosine);
  config.total_steps = 4;
  const auto curve = schedule_curve(config);
  // 0.5 * (1 + cos(pi * s / 4)) for s = 0..3
  EXPECT_NEAR(curve[0], 1e-3, 1e-18);
  EXPECT_NEAR(curve[1], 1e-3 * 0.5 * (1 + std::sqrt(0.5)), 1e-15);
  EXPECT_NEAR(curve[2], 0.5e-3, 1e-15);
  EXPECT_NEAR(curve[3], 1e-3 * 0.5 * (1 - std::sqrt(0.5)), 1e-15);
}

TEST(LrSchedule, MiniMindMatchesItsFormula) {
  const ScheduleConfig config = config_of(ScheduleKind::minimind);
  const auto curve = schedule_curve(config);
  for (int step = 0; step < 100; ++step) {
    EXPECT_NEAR(curve[step], 1e-3 * (0.1 + 0.45 * (1 + std::cos(kPi * step / 100.0))), 1e-15);
  }
  EXPECT_NEAR(curve[0], 1e-3, 1e-18);      // 0.1 + 0.9
  EXPECT_NEAR(curve[50], 0.55e-3, 1e-15);  // 0.1 + 0.45
  EXPECT_NEAR(learning_rate_at(config, 100), 0.1e-3, 1e-15);
}

TEST(LrSchedule, StepDecayHalvesEveryStepSize) {
  ScheduleConfig config = config_of(ScheduleKind::step);
  config.step_size = 30;
  config.gamma = 0.5;
  const auto curve = schedule_curve(config);
  EXPECT_EQ(curve[0], 1e-3);
  EXPECT_EQ(curve[29], 1e-3);
  EXPECT_EQ(curve[30], 0.5e-3);
  EXPECT_EQ(curve[59], 0.5e-3);
  EXPECT_EQ(curve[60], 0.25e-3);
  EXPECT_EQ(curve[99], 0.125e-3);
}

TEST(LrSchedule, ExponentialDecayIsGammaToTheStep) {
  ScheduleConfig config = config_of(ScheduleKind::exponential);
  config.gamma = 0.99;
  const auto curve = schedule_curve(config);
  double expected = 1e-3;
  for (int step = 0; step < 100; ++step) {
    EXPECT_NEAR(curve[step], expected, 1e-3 * 1e-12) << "step " << step;
    expected *= 0.99;
  }
}

TEST(LrSchedule, NamesRoundTrip) {
  for (const char* name : {"constant", "cosine", "minimind", "step", "exponential"}) {
    EXPECT_EQ(schedule_kind_name(parse_schedule_kind(name)), name);
  }
  EXPECT_EQ(parse_schedule_kind("cosine"), ScheduleKind::warmup_cosine);
  try {
    parse_schedule_kind("linear");
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("linear"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("minimind"), std::string::npos);
  }
}

TEST(LrSchedule, ValidationNamesTheField) {
  auto expect_rejected = [](ScheduleConfig config, const std::string& field) {
    try {
      validate(config);
      ADD_FAILURE() << "expected rejection of " << field;
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find(field), std::string::npos) << error.what();
    }
  };
  ScheduleConfig config = config_of(ScheduleKind::warmup_cosine);
  config.learning_rate = -1;
  expect_rejected(config, "learning_rate");
  config = config_of(ScheduleKind::warmup_cosine);
  config.learning_rate = NAN;
  expect_rejected(config, "learning_rate");
  config = config_of(ScheduleKind::minimind);
  config.total_steps = 0;
  expect_rejected(config, "total_steps");
  config = config_of(ScheduleKind::warmup_cosine);
  config.warmup_steps = 101;
  expect_rejected(config, "warmup_steps");
  config = config_of(ScheduleKind::warmup_cosine);
  config.min_learning_rate = 2e-3;
  expect_rejected(config, "min_learning_rate");
  config = config_of(ScheduleKind::step);
  config.step_size = 0;
  config.gamma = 0.5;
  expect_rejected(config, "step_size");
  config = config_of(ScheduleKind::exponential);
  config.gamma = 0;
  expect_rejected(config, "gamma");
  EXPECT_THROW(schedule_curve(config), std::invalid_argument);
  EXPECT_THROW(learning_rate_at(config_of(ScheduleKind::constant), -1), std::invalid_argument);
  EXPECT_NO_THROW(validate(config_of(ScheduleKind::constant)));
}

}  // namespace
}  // namespace minimind
