// Learning-rate schedules: the rate for each optimizer step (counted from 0), and the whole curve before
// training starts so the lab can plot it. Names parse from and print to the CLI's and config's strings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace minimind {

enum class ScheduleKind {
  constant,       // learning_rate at every step
  warmup_cosine,  // "cosine": linear warmup, then cosine decay to min_learning_rate at total_steps
  minimind,       // MiniMind's own: lr * (0.1 + 0.45 * (1 + cos(pi * step / total_steps)))
  step,           // lr * gamma^floor(step / step_size)
  exponential,    // lr * gamma^step
};

struct ScheduleConfig {
  ScheduleKind kind = ScheduleKind::constant;
  double learning_rate = 5e-4;
  int64_t warmup_steps = 0;        // warmup_cosine only
  double min_learning_rate = 0.0;  // warmup_cosine only
  int64_t total_steps = 1;         // number of optimizer steps; warmup_cosine and minimind need it > 0
  int64_t step_size = 1;           // step only
  double gamma = 1.0;              // step and exponential
};

// Throws std::invalid_argument naming the field when the config cannot describe a schedule (negative or
// non-finite rate, warmup longer than total_steps, min above the rate, step_size < 1, gamma outside (0,
// 1]...).
void validate(const ScheduleConfig& config);

// The rate at `step` (0-based; step >= 0, else std::invalid_argument). Steps past total_steps hold the
// final value for warmup_cosine (min_learning_rate) and minimind (0.1 * lr).
// warmup_cosine: during warmup the rate is lr * (step + 1) / warmup_steps, so step 0 already trains at
// lr / warmup_steps (never 0, which would waste a step) and step warmup_steps - 1 reaches lr; then with
// progress p = (step - warmup_steps) / (total_steps - warmup_steps):
//   min + (lr - min) * 0.5 * (1 + cos(pi * p)).
double learning_rate_at(const ScheduleConfig& config, int64_t step);

// learning_rate_at for steps 0 .. total_steps - 1 (validates the config first).
std::vector<double> schedule_curve(const ScheduleConfig& config);

// "constant", "cosine", "minimind", "step", "exponential".
std::string_view schedule_kind_name(ScheduleKind kind);
// The inverse of schedule_kind_name; throws std::invalid_argument listing the accepted names.
ScheduleKind parse_schedule_kind(std::string_view name);

}  // namespace minimind
