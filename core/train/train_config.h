// What a training run is: the data, the optimisation, the schedule, the checks and probes, the run directory.
// Read and written as JSON (the run directory keeps it; the CLI and the lab accept the same file).
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "train/adamw.h"
#include "train/lr_schedule.h"

namespace minimind {

struct TrainConfig {
  std::string mode = "pretrain";                      // "pretrain" or "sft" (loss on assistant tokens)
  std::filesystem::path data_dir;                     // train.shard and validation.shard from `prepare`
  std::filesystem::path run_dir;                      // checkpoints, metrics, config
  std::optional<std::filesystem::path> init_from;     // a model directory to start from (else from scratch)
  int64_t batch_size = 32;
  int64_t seq_len = 512;
  int64_t accumulation_steps = 1;
  int64_t epochs = 1;
  int64_t max_steps = 0;  // optimizer steps; 0: as many as the epochs take
  bool packed = true;     // pack documents (pretraining) or one per row, padded
  ScheduleConfig schedule;
  AdamWConfig adamw;
  double grad_clip = 1.0;
  int64_t eval_every = 100;   // steps; 0: only at the end
  int64_t eval_batches = 0;   // 0: the whole validation split
  int64_t save_every = 500;   // steps; 0: only at the end
  int64_t keep_last = 3;      // checkpoints kept besides the best
  int64_t log_every = 1;
  uint64_t seed = 42;
  std::string device = "cpu";  // cpu, cuda or cuda:N (see backend/backend_factory.h)
  // auto (bf16 compute with f32 master weights on a GPU, f32 on the CPU), f32 or bf16
  // (model/precision_choice.h).
  std::string precision = "auto";
  int threads = 0;             // the CPU backend's threads; 0: every core
  // Numerical guard: skip updates with a non-finite or spiking loss / gradient norm; stop after this many in a
  // row.
  double spike_z = 6.0;
  int64_t max_consecutive_skips = 5;
  // Probes on a fixed prompt every N steps (0: off): attention maps and a sample generation. They run a
  // separate inference forward, so they never disturb the training step. They need the tokenizer.
  std::filesystem::path tokenizer;  // tokenizer.json
  int64_t sample_every = 0;
  std::string probe_prompt = "<|im_start|>";
  int64_t sample_tokens = 48;
};

nlohmann::json train_config_to_json(const TrainConfig& config);
TrainConfig train_config_from_json(const nlohmann::json& json);  // missing keys keep their defaults
// A run directory's train_config.json, as the trainer writes it. Throws std::runtime_error naming the file.
TrainConfig load_train_config(const std::filesystem::path& path);

}  // namespace minimind
