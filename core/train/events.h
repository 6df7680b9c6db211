// The typed events a training run publishes (through EventStream) for the CLI, the lab and the log
// writers: plain structs in one std::variant. Each struct names itself with `type` (the "type" field of
// the JSONL log). Steps are optimizer steps counted from 0; times are seconds.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace minimind {

// One optimizer step's measurements.
struct StepMetrics {
  static constexpr std::string_view type = "step_metrics";
  int64_t step = 0;
  int64_t epoch = 0;
  double loss = 0;      // mean cross-entropy over the step's tokens (all micro-batches)
  double aux_loss = 0;  // MoE load-balancing loss; 0 without experts
  double learning_rate = 0;
  double grad_norm = 0;  // global norm before clipping
  double tokens_per_s = 0;
  double flops_per_s = 0;                                 // achieved model FLOP/s
  double mfu = std::numeric_limits<double>::quiet_NaN();  // flops_per_s / peak; NaN when no peak is known
  int64_t memory_bytes = 0;
  double eta_s = 0;  // estimated time to the end of the run
  double elapsed_s = 0;
  int64_t tokens_seen = 0;
};

struct ValidationResult {
  static constexpr std::string_view type = "validation";
  int64_t step = 0;
  double loss = 0;
  double perplexity = 0;  // exp(loss)
};

struct CheckpointWritten {
  static constexpr std::string_view type = "checkpoint";
  int64_t step = 0;
  std::string path{};
  bool is_best = false;  // best validation loss so far
};

struct Warning {
  static constexpr std::string_view type = "warning";
  int64_t step = 0;
  std::string message{};
  // Something failed while the run goes on (a log that cannot be written), as opposed to a notice such as
  // "paused": the lab shows it in its error banner, not only in the log. An error that ends the run is a
  // RunFailed.
  bool failure = false;
};

// The numerical guard skipped this step's update.
struct SkippedStep {
  static constexpr std::string_view type = "skipped_step";
  int64_t step = 0;
  std::string reason{};
  int64_t consecutive = 0;  // skips in a row, this one included
};

// Fraction of the step's routed tokens that went to each expert.
struct MoeLoad {
  static constexpr std::string_view type = "moe_load";
  int64_t step = 0;
  std::vector<std::vector<double>> expert_fraction{};  // [layer][expert], each row sums to 1
};

// Attention probabilities on the probe prompt (a heavy snapshot: a lagging consumer gets only the latest).
struct AttentionMaps {
  static constexpr std::string_view type = "attention_maps";
  int64_t step = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  std::vector<std::string> tokens{};  // the probe's tokens as text, T of them
  std::vector<float> weights{};       // [layer][head][query t][key s], row-major, num_layers*num_heads*T*T
};

// The rotary embedding's frequencies (a heavy snapshot, like AttentionMaps).
struct RopeTable {
  static constexpr std::string_view type = "rope_table";
  int64_t step = 0;
  int64_t head_dim = 0;
  int64_t max_positions = 0;
  std::vector<double> base_frequencies{};  // head_dim / 2 inverse frequencies before any YaRN scaling
  std::vector<double> frequencies{};       // the ones in use (equal to base_frequencies without scaling)
};

// A generation from the fixed probe prompt.
struct SampleText {
  static constexpr std::string_view type = "sample_text";
  int64_t step = 0;
  std::string prompt{};
  std::string text{};
};

// An error ended the run; published before the error propagates to the caller of Trainer::run, and followed
// by RunFinished.
struct RunFailed {
  static constexpr std::string_view type = "run_failed";
  int64_t step = 0;       // the step the run was working on
  std::string message{};  // for people: what failed, while doing what, and what is left to resume from
  std::string error{};    // the error's own text
  std::string last_checkpoint{};  // the run's last complete checkpoint; empty when it has none
};

// The last event of a run.
struct RunFinished {
  static constexpr std::string_view type = "run_finished";
  int64_t step = 0;
  std::string reason{};  // "finished", "stopped", the numerical guard's message, or "failed: " and the error
};

using Event = std::variant<StepMetrics, ValidationResult, CheckpointWritten, Warning, SkippedStep, MoeLoad,
                           AttentionMaps, RopeTable, SampleText, RunFailed, RunFinished>;

inline std::string_view event_type(const Event& event) {
  return std::visit([](const auto& e) { return std::decay_t<decltype(e)>::type; }, event);
}

inline int64_t event_step(const Event& event) {
  return std::visit([](const auto& e) { return e.step; }, event);
}

// Heavy snapshots: a subscriber that lags behind receives only the most recent one of each kind.
// Everything else is delivered, every one, in order.
inline bool is_heavy_snapshot(const Event& event) {
  return std::holds_alternative<AttentionMaps>(event) || std::holds_alternative<RopeTable>(event);
}

}  // namespace minimind
