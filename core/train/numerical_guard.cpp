// The numerical guard (see numerical_guard.h). Mean and variance are recomputed from the stored window
// (two passes in double over at most `window` values) rather than updated incrementally, so the result
// depends only on the window's contents and a restored guard reproduces it bit for bit.
#include "train/numerical_guard.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace minimind {
namespace {

void validate(const NumericalGuardConfig& config) {
  auto require = [](bool condition, const std::string& message) {
    if (!condition) throw std::invalid_argument("numerical guard: " + message);
  };
  require(config.window >= 1, "window must be >= 1, found " + std::to_string(config.window));
  require(config.warmup_steps >= 0,
          "warmup_steps must be >= 0, found " + std::to_string(config.warmup_steps));
  require(std::isfinite(config.z_threshold), "z_threshold must be finite");
  require(std::isfinite(config.min_relative_std) && config.min_relative_std >= 0,
          "min_relative_std must be finite and >= 0, found " + std::to_string(config.min_relative_std));
  require(config.max_consecutive_skips >= 1,
          "max_consecutive_skips must be >= 1, found " + std::to_string(config.max_consecutive_skips));
}

void push_bounded(std::deque<double>& history, double value, int64_t window) {
  history.push_back(value);
  while (static_cast<int64_t>(history.size()) > window) history.pop_front();
}

}  // namespace

NumericalGuard::NumericalGuard(NumericalGuardConfig config) : config_(config) {
  validate(config_);
}

NumericalGuard::WindowStatistics NumericalGuard::statistics(const std::deque<double>& history) const {
  WindowStatistics stats;
  if (config_.z_threshold <= 0 || accepted_steps_ < config_.warmup_steps || history.size() < 2) return stats;
  double mean = 0;
  for (double x : history) mean += x;
  mean /= static_cast<double>(history.size());
  double sum_squares = 0;
  for (double x : history) sum_squares += (x - mean) * (x - mean);
  const double std_dev = std::sqrt(sum_squares / static_cast<double>(history.size() - 1));
  stats.mean = mean;
  stats.scale = std::max(std_dev, config_.min_relative_std * std::abs(mean));
  stats.judged = stats.scale > 0;  // a history of exact zeros: nothing to compare against
  return stats;
}

double NumericalGuard::limit(const std::deque<double>& history) const {
  const WindowStatistics stats = statistics(history);
  return stats.judged ? stats.mean + config_.z_threshold * stats.scale
                      : std::numeric_limits<double>::infinity();
}

std::string NumericalGuard::spike_reason(const std::deque<double>& history, double value,
                                         const char* name) const {
  const WindowStatistics stats = statistics(history);
  if (!stats.judged || value <= limit(history)) return {};
  const double z = (value - stats.mean) / stats.scale;
  std::ostringstream reason;
  reason << name << " " << value << " is a spike: " << z << " standard deviations above the mean "
         << stats.mean << " of the last " << history.size() << " accepted steps (threshold "
         << config_.z_threshold << ")";
  return reason.str();
}

GuardLimits NumericalGuard::limits() const {
  return {limit(recent_losses_), limit(recent_grad_norms_)};
}

GuardVerdict NumericalGuard::check(double loss, double grad_norm) {
  const GuardLimits bounds = limits();
  // The device's rule (update_decision): finite, and at most the limits.
  const bool applied =
      std::isfinite(loss) && std::isfinite(grad_norm) && loss <= bounds.loss && grad_norm <= bounds.grad_norm;
  return record(loss, grad_norm, applied);
}

GuardVerdict NumericalGuard::record(double loss, double grad_norm, bool applied) {
  if (applied) {
    push_bounded(recent_losses_, loss, config_.window);
    push_bounded(recent_grad_norms_, grad_norm, config_.window);
    ++accepted_steps_;
    consecutive_skips_ = 0;
    return {GuardVerdict::apply, {}};
  }
  std::string reason;
  if (!std::isfinite(loss)) {
    reason = std::string("loss is ") + (std::isnan(loss) ? "NaN" : "Inf");
  } else if (!std::isfinite(grad_norm)) {
    reason = std::string("gradient norm is ") + (std::isnan(grad_norm) ? "NaN" : "Inf");
  } else {
    reason = spike_reason(recent_losses_, loss, "loss");
    if (reason.empty()) reason = spike_reason(recent_grad_norms_, grad_norm, "gradient norm");
    if (reason.empty()) {
      // The device skipped a step the window does not call a spike: say what it saw.
      std::ostringstream text;
      const GuardLimits bounds = limits();
      text << "the device skipped the update: loss " << loss << " (limit " << bounds.loss
           << "), gradient norm " << grad_norm << " (limit " << bounds.grad_norm << ")";
      reason = text.str();
    }
  }
  ++total_skips_;
  ++consecutive_skips_;
  if (consecutive_skips_ >= config_.max_consecutive_skips) {
    return {GuardVerdict::stop, "stopping: " + std::to_string(consecutive_skips_) +
                                    " consecutive steps were skipped (last: " + reason +
                                    "); the last checkpoint predates them"};
  }
  return {GuardVerdict::skip, reason};
}

nlohmann::json NumericalGuard::to_json() const {
  return {
      {"config",
       {{"window", config_.window},
        {"warmup_steps", config_.warmup_steps},
        {"z_threshold", config_.z_threshold},
        {"min_relative_std", config_.min_relative_std},
        {"max_consecutive_skips", config_.max_consecutive_skips}}},
      {"recent_losses", recent_losses_},
      {"recent_grad_norms", recent_grad_norms_},
      {"accepted_steps", accepted_steps_},
      {"total_skips", total_skips_},
      {"consecutive_skips", consecutive_skips_},
  };
}

NumericalGuard NumericalGuard::from_json(const nlohmann::json& state) {
  try {
    const nlohmann::json& config_json = state.at("config");
    NumericalGuardConfig config;
    config.window = config_json.at("window").get<int64_t>();
    config.warmup_steps = config_json.at("warmup_steps").get<int64_t>();
    config.z_threshold = config_json.at("z_threshold").get<double>();
    config.min_relative_std = config_json.at("min_relative_std").get<double>();
    config.max_consecutive_skips = config_json.at("max_consecutive_skips").get<int64_t>();
    NumericalGuard guard(config);
    guard.recent_losses_ = state.at("recent_losses").get<std::deque<double>>();
    guard.recent_grad_norms_ = state.at("recent_grad_norms").get<std::deque<double>>();
    guard.accepted_steps_ = state.at("accepted_steps").get<int64_t>();
    guard.total_skips_ = state.at("total_skips").get<int64_t>();
    guard.consecutive_skips_ = state.at("consecutive_skips").get<int64_t>();
    if (static_cast<int64_t>(guard.recent_losses_.size()) > config.window ||
        guard.recent_losses_.size() != guard.recent_grad_norms_.size()) {
      throw std::invalid_argument("numerical guard state: the windows' sizes disagree with window=" +
                                  std::to_string(config.window));
    }
    return guard;
  } catch (const nlohmann::json::exception& error) {
    throw std::invalid_argument(std::string("numerical guard state: ") + error.what());
  }
}

}  // namespace minimind
