// Reference: hand-built loss/grad-norm sequences whose verdicts follow from the definitions (non-finite
// values, a z-score computed here by hand for a window of alternating values), the limits the device judges
// against computed by hand, verdicts recorded from the device, and an exact round trip.
#include "train/numerical_guard.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace minimind {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

NumericalGuardConfig small_config() {
  NumericalGuardConfig config;
  config.window = 10;
  config.warmup_steps = 4;
  config.z_threshold = 3.0;
  config.min_relative_std = 0.0;
  config.max_consecutive_skips = 3;
  return config;
}

// Alternates 2.9 and 3.1: mean 3, sample std 0.1 * sqrt(n / (n - 1)).
void feed_normal_steps(NumericalGuard& guard, int count) {
  for (int i = 0; i < count; ++i) {
    ASSERT_EQ(guard.check(i % 2 ? 3.1 : 2.9, i % 2 ? 1.1 : 0.9).action, GuardVerdict::apply) << "step " << i;
  }
}

TEST(NumericalGuard, NonFiniteLossOrGradNormIsSkipped) {
  NumericalGuard guard(small_config());
  GuardVerdict verdict = guard.check(kNaN, 1.0);
  EXPECT_EQ(verdict.action, GuardVerdict::skip);
  EXPECT_NE(verdict.reason.find("loss is NaN"), std::string::npos) << verdict.reason;
  EXPECT_EQ(guard.check(1.0, 1.0).action, GuardVerdict::apply);
  verdict = guard.check(kInf, 1.0);
  EXPECT_EQ(verdict.action, GuardVerdict::skip);
  EXPECT_NE(verdict.reason.find("loss is Inf"), std::string::npos) << verdict.reason;
  verdict = guard.check(1.0, -kInf);
  EXPECT_NE(verdict.reason.find("gradient norm is Inf"), std::string::npos) << verdict.reason;
  verdict = guard.check(1.0, kNaN);
  EXPECT_EQ(verdict.action, GuardVerdict::stop);  // third in a row
  EXPECT_EQ(guard.total_skips(), 4);
  EXPECT_EQ(guard.accepted_steps(), 1);
}

TEST(NumericalGuard, SpikesAreSkippedOnlyAfterWarmup) {
  NumericalGuard guard(small_config());
  feed_normal_steps(guard, 3);
  // 3 accepted < warmup 4: a huge loss is still applied.
  EXPECT_EQ(guard.check(100.0, 1.0).action, GuardVerdict::apply);
  NumericalGuard fresh(small_config());
  feed_normal_steps(fresh, 10);
  // Window: five 2.9 and five 3.1, mean 3, std 0.1 * sqrt(10 / 9) = 0.10541.
  const double std_dev = 0.1 * std::sqrt(10.0 / 9.0);
  EXPECT_EQ(fresh.check(3.0 + 2.9 * std_dev, 1.0).action, GuardVerdict::apply);  // z = 2.9
  // That step joined the window; rebuild a clean one for the spike.
  NumericalGuard guard2(small_config());
  feed_normal_steps(guard2, 10);
  const GuardVerdict spike = guard2.check(3.0 + 3.1 * std_dev, 1.0);  // z = 3.1
  EXPECT_EQ(spike.action, GuardVerdict::skip);
  EXPECT_NE(spike.reason.find("loss"), std::string::npos) << spike.reason;
  EXPECT_NE(spike.reason.find("spike"), std::string::npos) << spike.reason;
  // A drop of the same size is never a spike.
  EXPECT_EQ(guard2.check(3.0 - 10 * std_dev, 1.0).action, GuardVerdict::apply);
}

TEST(NumericalGuard, GradNormSpikeIsSkipped) {
  NumericalGuard guard(small_config());
  feed_normal_steps(guard, 10);
  const GuardVerdict verdict = guard.check(3.0, 50.0);
  EXPECT_EQ(verdict.action, GuardVerdict::skip);
  EXPECT_NE(verdict.reason.find("gradient norm"), std::string::npos) << verdict.reason;
  EXPECT_EQ(guard.accepted_steps(), 10);  // the skipped step did not join the window
}

TEST(NumericalGuard, RelativeStdFloorIgnoresNoiseOnAFlatHistory) {
  NumericalGuardConfig config = small_config();
  config.min_relative_std = 0.01;
  NumericalGuard guard(config);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(guard.check(2.0, 1.0).action, GuardVerdict::apply);
  EXPECT_EQ(guard.check(2.05, 1.0).action, GuardVerdict::apply);  // z = 0.05 / 0.02 = 2.5
  EXPECT_EQ(guard.check(2.1, 1.0).action, GuardVerdict::skip);    // z about 0.1 / 0.02 = 5
}

TEST(NumericalGuard, StopsAfterMaxConsecutiveSkipsAndResetsOnApply) {
  NumericalGuard guard(small_config());
  EXPECT_EQ(guard.check(kNaN, 1).action, GuardVerdict::skip);
  EXPECT_EQ(guard.check(kNaN, 1).action, GuardVerdict::skip);
  EXPECT_EQ(guard.consecutive_skips(), 2);
  EXPECT_EQ(guard.check(1, 1).action, GuardVerdict::apply);
  EXPECT_EQ(guard.consecutive_skips(), 0);
  EXPECT_EQ(guard.check(kNaN, 1).action, GuardVerdict::skip);
  EXPECT_EQ(guard.check(kNaN, 1).action, GuardVerdict::skip);
  const GuardVerdict verdict = guard.check(kNaN, 1);
  EXPECT_EQ(verdict.action, GuardVerdict::stop);
  EXPECT_NE(verdict.reason.find("3 consecutive steps"), std::string::npos) << verdict.reason;
  EXPECT_EQ(guard.total_skips(), 5);
}

TEST(NumericalGuard, StateRoundTripJudgesExactlyAlike) {
  NumericalGuardConfig config = small_config();
  config.window = 7;  // smaller than the history, so the window has slid
  NumericalGuard original(config);
  for (int i = 0; i < 20; ++i) original.check(3.0 + 0.1 * std::sin(i * 1.7), 1.0 + 0.05 * std::cos(i));
  original.check(kNaN, 1.0);
  const std::string text = original.to_json().dump();
  NumericalGuard restored = NumericalGuard::from_json(nlohmann::json::parse(text));
  EXPECT_EQ(restored.to_json(), original.to_json());
  EXPECT_EQ(restored.consecutive_skips(), 1);
  EXPECT_EQ(restored.total_skips(), 1);
  for (int i = 0; i < 30; ++i) {
    const double loss = 3.0 + 0.2 * std::sin(i * 2.3) + (i == 12 ? 5.0 : 0.0);
    const GuardVerdict a = original.check(loss, 1.0);
    const GuardVerdict b = restored.check(loss, 1.0);
    EXPECT_EQ(a.action, b.action) << "step " << i;
    EXPECT_EQ(a.reason, b.reason) << "step " << i;
  }
  EXPECT_EQ(restored.to_json(), original.to_json());
}

// The limits the device judges against: +inf until spikes are judged, then mean + z * std of the window
// (computed here by hand for the alternating window).
TEST(NumericalGuard, LimitsAreInfiniteUntilJudgedThenMeanPlusZScales) {
  NumericalGuard guard(small_config());
  EXPECT_EQ(guard.limits().loss, kInf);
  EXPECT_EQ(guard.limits().grad_norm, kInf);
  feed_normal_steps(guard, 3);
  EXPECT_EQ(guard.limits().loss, kInf);  // 3 accepted < warmup 4
  NumericalGuard judged(small_config());
  feed_normal_steps(judged, 10);  // the window: five 2.9 and five 3.1 losses, five 0.9 and five 1.1 norms
  const double std_dev = 0.1 * std::sqrt(10.0 / 9.0);
  EXPECT_NEAR(judged.limits().loss, 3.0 + 3.0 * std_dev, 1e-12);
  EXPECT_NEAR(judged.limits().grad_norm, 1.0 + 3.0 * std_dev, 1e-12);

  NumericalGuardConfig off = small_config();
  off.z_threshold = 0;  // spike detection off
  NumericalGuard no_spikes(off);
  feed_normal_steps(no_spikes, 10);
  EXPECT_EQ(no_spikes.limits().loss, kInf);
}

// record() takes the device's verdict as given: an applied step joins the window whatever the host would
// have said, and a skipped one is explained the way check() explains it.
TEST(NumericalGuard, RecordKeepsTheDevicesVerdictAndExplainsSkips) {
  NumericalGuard guard(small_config());
  feed_normal_steps(guard, 10);
  const double std_dev = 0.1 * std::sqrt(10.0 / 9.0);
  // A spike by the limits, skipped by the device: the reason names it.
  GuardVerdict verdict = guard.record(3.0 + 3.5 * std_dev, 1.0, false);
  EXPECT_EQ(verdict.action, GuardVerdict::skip);
  EXPECT_NE(verdict.reason.find("loss"), std::string::npos) << verdict.reason;
  EXPECT_NE(verdict.reason.find("spike"), std::string::npos) << verdict.reason;
  EXPECT_EQ(guard.consecutive_skips(), 1);
  verdict = guard.record(kNaN, 1.0, false);
  EXPECT_NE(verdict.reason.find("loss is NaN"), std::string::npos) << verdict.reason;
  verdict = guard.record(3.0, kInf, false);
  EXPECT_EQ(verdict.action, GuardVerdict::stop);  // the third in a row
  EXPECT_NE(verdict.reason.find("gradient norm is Inf"), std::string::npos) << verdict.reason;

  // Applied by the device: joins the window and resets the run of skips.
  NumericalGuard fresh(small_config());
  feed_normal_steps(fresh, 10);
  EXPECT_EQ(fresh.record(3.0, 1.0, true).action, GuardVerdict::apply);
  EXPECT_EQ(fresh.accepted_steps(), 11);
  EXPECT_EQ(fresh.consecutive_skips(), 0);
  // A skip the window does not explain (a borderline the device rounded the other way) still says why.
  verdict = fresh.record(3.0, 1.0, false);
  EXPECT_EQ(verdict.action, GuardVerdict::skip);
  EXPECT_NE(verdict.reason.find("limit"), std::string::npos) << verdict.reason;
}

// check() is limits() and record() on the host: the same verdicts for values either side of the limits.
TEST(NumericalGuard, CheckJudgesAsTheDeviceDoesAgainstTheLimits) {
  for (const double offset : {-1e-9, 1e-9}) {
    NumericalGuard guard(small_config());
    feed_normal_steps(guard, 10);
    const GuardLimits limits = guard.limits();
    NumericalGuard twin = NumericalGuard::from_json(guard.to_json());
    const GuardVerdict checked = guard.check(limits.loss + offset, 1.0);
    const bool within = limits.loss + offset <= limits.loss;
    const GuardVerdict recorded = twin.record(limits.loss + offset, 1.0, within);
    EXPECT_EQ(checked.action, within ? GuardVerdict::apply : GuardVerdict::skip);
    EXPECT_EQ(checked.action, recorded.action);
    EXPECT_EQ(checked.reason, recorded.reason);
    EXPECT_EQ(guard.to_json(), twin.to_json());
  }
}

TEST(NumericalGuard, RejectsBadConfigAndState) {
  NumericalGuardConfig config;
  config.max_consecutive_skips = 0;
  EXPECT_THROW(NumericalGuard{config}, std::invalid_argument);
  config = {};
  config.window = 0;
  EXPECT_THROW(NumericalGuard{config}, std::invalid_argument);
  nlohmann::json state = NumericalGuard().to_json();
  state.erase("total_skips");
  EXPECT_THROW(NumericalGuard::from_json(state), std::invalid_argument);
}

}  // namespace
}  // namespace minimind
