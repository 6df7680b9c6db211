// The memory preflight as every command that allocates a plan runs it: before the model or the trainer is
// built, the plan's estimate is compared with the memory available on its device (the system's for the CPU,
// the GPU's free memory for cuda:N), and a plan that does not fit ends the command with exit code 1 and the
// verdict (figures and a suggestion), unless --skip_memory_check. A GPU that runs out of memory during a run
// all the same ends the command with advice on the sizes (throw_with_memory_advice).
#pragma once

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

#include "backend/backend_factory.h"
#include "backend/device_out_of_memory.h"
#include "cli/arguments.h"
#include "config/memory_preflight.h"
#include "config/model_config.h"
#include "train/train_config.h"

namespace minimind::cli {

// The refusal; main() prints it and exits with 1.
class MemoryRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

Option skip_memory_check_option();

// Throws MemoryRefused when the plan does not fit on `device`. With --skip_memory_check it does not refuse: a
// plan that does not fit is reported on stderr as a warning and the command goes on. When the available
// memory cannot be read, that is said on stderr and the command goes on unchecked.
void check_memory_or_refuse(const Arguments& args, const MemoryRequest& request, const DeviceSpec& device);
// The same on the device of --device (cpu without it).
void check_memory_or_refuse(const Arguments& args, const MemoryRequest& request);

// `request` with its sizes named by the command's flags ("--batch_size", "--max_seq_len", ...).
MemoryRequest named_by_flags(MemoryRequest request, const std::string& batch_flag,
                             const std::string& length_flag,
                             const std::string& accumulation_flag = "--accumulation_steps");

// A training run's plan as the preflight checked it, kept for the advice after an out-of-memory.
struct TrainingPlan {
  MemoryRequest request;
  DeviceSpec device;
};

// minimind train: the model the run trains (--from's config when given) at its batch and length, on the
// run's device (bf16 mixed precision on a GPU). Returns the plan checked (none for sizes left to the trainer
// to refuse).
std::optional<TrainingPlan> check_training_memory(const Arguments& args, const TrainConfig& config,
                                                  const ModelConfig& model_config);
// minimind resume, train --resume: the model and settings the run directory records (config.json,
// train_config.json), on --device or else the run's; a directory without them is left to the resume to
// refuse (and returns none).
std::optional<TrainingPlan> check_resumed_memory(const Arguments& args, const std::filesystem::path& run_dir);
// minimind eval: the model directory's config at batch x seq_len, on --device.
void check_evaluation_memory(const Arguments& args, const std::filesystem::path& model_dir, int64_t batch,
                             int64_t seq_len);

// After a training command's device ran out of memory (`error`, a DeviceOutOfMemory): throws a
// std::runtime_error with its message and, for a checked plan, out_of_memory_advice against the device's
// whole memory (the batch that fits there). main() prints it with exit status 1.
[[noreturn]] void throw_with_memory_advice(const DeviceOutOfMemory& error,
                                           const std::optional<TrainingPlan>& plan);

}  // namespace minimind::cli
