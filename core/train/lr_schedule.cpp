// Learning-rate schedules (see lr_schedule.h for the formulas).
#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

namespace minimind {
namespace {

void require(bool condition, const std::string& message) {
  if (!condition) throw std::invalid_argument("learning-rate schedule: " + message);
}

}  // namespace

void validate(const ScheduleConfig& config) {
  const std::string kind(schedule_kind_name(config.kind));
  require(std::isfinite(config.learning_rate) && config.learning_rate >= 0,
          "learning_rate must be finite and >= 0, found " + std::to_string(config.learning_rate));
  require(config.total_steps > 0, "total_steps must be > 0, found " + std::to_string(config.total_steps));
  switch (config.kind) {
    case ScheduleKind::constant:
    case ScheduleKind::minimind:
      break;
    case ScheduleKind::warmup_cosine:
      require(config.warmup_steps >= 0 && config.warmup_steps <= config.total_steps,
              "warmup_steps must be in [0, total_steps=" + std::to_string(config.total_steps) + "], found " +
                  std::to_string(config.warmup_steps));
      require(std::isfinite(config.min_learning_rate) && config.min_learning_rate >= 0 &&
                  config.min_learning_rate <= config.learning_rate,
              "min_learning_rate must be in [0, learning_rate=" + std::to_string(config.learning_rate) +
                  "], found " + std::to_string(config.min_learning_rate));
      break;
    case ScheduleKind::step:
      require(config.step_size >= 1,
              "step_size must be >= 1 for the step schedule, found " + std::to_string(config.step_size));
      [[fallthrough]];
    case ScheduleKind::exponential:
      require(std::isfinite(config.gamma) && config.gamma > 0 && config.gamma <= 1,
              "gamma must be in (0, 1] for the " + kind + " schedule, found " + std::to_string(config.gamma));
      break;
  }
}

double learning_rate_at(const ScheduleConfig& config, int64_t step) {
  require(step >= 0, "step must be >= 0, found " + std::to_string(step));
  const double lr = config.learning_rate;
  constexpr double pi = std::numbers::pi;
  switch (config.kind) {
    case ScheduleKind::constant:
      return lr;
    case ScheduleKind::warmup_cosine: {
      if (step < config.warmup_steps) return lr * static_cast<double>(step + 1) / config.warmup_steps;
      const int64_t decay_steps = config.total_steps - config.warmup_steps;
      if (decay_steps <= 0) return lr;  // all warmup: nothing left to decay over
      const double progress =
          std::min(1.0, static_cast<double>(step - config.warmup_steps) / static_cast<double>(decay_steps));
      return config.min_learning_rate +
             (lr - config.min_learning_rate) * 0.5 * (1.0 + std::cos(pi * progress));
    }
    case ScheduleKind::minimind: {
      const double progress = std::min(1.0, static_cast<double>(step) / config.total_steps);
      return lr * (0.1 + 0.45 * (1.0 + std::cos(pi * progress)));
    }
    case ScheduleKind::step:
      return lr * std::pow(config.gamma, static_cast<double>(step / config.step_size));
    case ScheduleKind::exponential:
      return lr * std::pow(config.gamma, static_cast<double>(step));
  }
  throw std::invalid_argument("learning-rate schedule: unknown kind");
}

std::vector<double> schedule_curve(const ScheduleConfig& config) {
  validate(config);
  std::vector<double> curve(static_cast<size_t>(config.total_steps));
  for (int64_t step = 0; step < config.total_steps; ++step) curve[step] = learning_rate_at(config, step);
  return curve;
}

std::string_view schedule_kind_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::constant:
      return "constant";
    case ScheduleKind::warmup_cosine:
      return "cosine";
    case ScheduleKind::minimind:
      return "minimind";
    case ScheduleKind::step:
      return "step";
    case ScheduleKind::exponential:
      return "exponential";
  }
  return "unknown";
}

ScheduleKind parse_schedule_kind(std::string_view name) {
  for (ScheduleKind kind : {ScheduleKind::constant, ScheduleKind::warmup_cosine, ScheduleKind::minimind,
                            ScheduleKind::step, ScheduleKind::exponential}) {
    if (schedule_kind_name(kind) == name) return kind;
  }
  throw std::invalid_argument("unknown learning-rate schedule '" + std::string(name) +
                              "'; expected one of constant, cosine, minimind, step, exponential");
}

}  // namespace minimind
