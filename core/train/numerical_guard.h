// The numerical guard decides, once per optimizer step and before the update, whether to apply it: a NaN or
// Inf loss or gradient norm, or a spike far above the recent accepted steps, skips the update; too many
// skips in a row stop the run. Its state round-trips through JSON so a resumed run judges exactly alike.
#pragma once

#include <cstdint>
#include <deque>
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

struct GuardVerdict {
  enum Action { apply, skip, stop };
  Action action = apply;
  std::string reason;  // empty for apply; what was wrong for skip and stop
};

class NumericalGuard {
 public:
  // Throws std::invalid_argument naming the field for a window < 1, warmup_steps < 0, ... .
  explicit NumericalGuard(NumericalGuardConfig config = {});

  // Judges one step. An applied step joins the window; a skipped one does not (it is counted instead).
  // `stop` comes in place of the skip that reaches max_consecutive_skips.
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
  std::string spike_reason(const std::deque<double>& history, double value, const char* name) const;

  NumericalGuardConfig config_;
  std::deque<double> recent_losses_;  // at most config_.window accepted values, oldest first
  std::deque<double> recent_grad_norms_;
  int64_t accepted_steps_ = 0;
  int64_t total_skips_ = 0;
  int64_t consecutive_skips_ = 0;
};

}  // namespace minimind
