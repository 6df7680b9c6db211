// The numerical guard decides, once per optimizer step and before the update, whether to apply it: a NaN or
// Inf loss or gradient norm, or a spike far above the recent accepted steps, skips the update; too many
// skips in a row stop the run. Its state round-trips through JSON so a resumed run judges exactly alike.
//
// The judgement itself runs on the device, before the update and without the host: the guard hands the
// step its limits (limits(), written into the step's control scalars), the device applies the update only
// when the loss and the norm are finite and within them, and the host then records the device's verdict
// (record()), keeping the window, the counters and the stop rule. check() is the same judgement made on the
// host, for callers without a device step.
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

namespace minimind {

struct NumericalGuardConfig {
  // Recent accepted steps whose mean and standard deviation define "normal".
  int64_t window = 100;
  // Spikes are judged only after this many accepted steps (the first steps of a run move fast).
  int64_t warmup_steps = 20;
  // A step whose loss or grad norm lies more than this many standard deviations ABOVE the window's mean
  // is a spike (one-sided: a sudden drop is never skipped). <= 0 turns spike detection off.
  double z_threshold = 6.0;
  // The standard deviation used is at least this fraction of |mean|, so a nearly flat history does not
  // turn ordinary noise into "spikes".
  double min_relative_std = 0.01;
  // This many skips in a row stop the run. Must be >= 1.
  int64_t max_consecutive_skips = 5;
};

// The loss and gradient norm above which the next step is a spike: mean + z_threshold * scale of the
// window's accepted values (scale = max(sample std, min_relative_std * |mean|)); +inf while spikes are not
// judged (during warmup, with fewer than two values, z_threshold <= 0, or a zero scale).
struct GuardLimits {
  double loss = std::numeric_limits<double>::infinity();
  double grad_norm = std::numeric_limits<double>::infinity();
};

struct GuardVerdict {
  enum Action { apply, skip, stop };
  Action action = apply;
  std::string reason;  // empty for apply; what was wrong for skip and stop
};

class NumericalGuard {
 public:
  // Throws std::invalid_argument naming the field for a window < 1, warmup_steps < 0, ... .
  explicit NumericalGuard(NumericalGuardConfig config = {});

  // The limits of the next step, from the window as it stands.
  GuardLimits limits() const;
  // Records a step the device judged: `applied` is its verdict (finite and within limits()). An applied step
  // joins the window; a skipped one does not (it is counted instead), and the verdict says why it was
  // skipped. `stop` comes in place of the skip that reaches max_consecutive_skips.
  GuardVerdict record(double loss, double grad_norm, bool applied);
  // Judges one step on the host as the device would (finite and within limits()), then records it.
  GuardVerdict check(double loss, double grad_norm);

  const NumericalGuardConfig& config() const { return config_; }
  int64_t total_skips() const { return total_skips_; }
  int64_t consecutive_skips() const { return consecutive_skips_; }
  int64_t accepted_steps() const { return accepted_steps_; }

  // Config, counters and the window's values; doubles print with round-trip precision, so
  // from_json(to_json()) judges every later step exactly as this guard would.
  nlohmann::json to_json() const;
  // Throws std::invalid_argument when a field is missing or has the wrong type.
  static NumericalGuard from_json(const nlohmann::json& state);

 private:
  struct WindowStatistics {
    double mean = 0, scale = 0;
    bool judged = false;  // spikes are judged against this window
  };
  WindowStatistics statistics(const std::deque<double>& history) const;
  double limit(const std::deque<double>& history) const;
  std::string spike_reason(const std::deque<double>& history, double value, const char* name) const;

  NumericalGuardConfig config_;
  std::deque<double> recent_losses_;  // at most config_.window accepted values, oldest first
  std::deque<double> recent_grad_norms_;
  int64_t accepted_steps_ = 0;
  int64_t total_skips_ = 0;
  int64_t consecutive_skips_ = 0;
};

}  // namespace minimind
