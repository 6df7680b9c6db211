// The memory preflight as every command that allocates a plan runs it: before the backend, the model or the
// trainer is built, the plan's estimate is compared with the memory available, and a plan that does not fit
// ends the command with exit code 1 and the verdict (figures and a suggestion), unless --skip_memory_check.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

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

// Throws MemoryRefused when the plan does not fit. With --skip_memory_check it does not refuse: a plan that
// does not fit is reported on stderr as a warning and the command goes on. When the available memory cannot
// be read, that is said on stderr and the command goes on unchecked.
void check_memory_or_refuse(const Arguments& args, const MemoryRequest& request);

// `request` with its sizes named by the command's flags ("--batch_size", "--max_seq_len", ...).
MemoryRequest named_by_flags(MemoryRequest request, const std::string& batch_flag,
                             const std::string& length_flag,
                             const std::string& accumulation_flag = "--accumulation_steps");

// minimind train: the model the run trains (--from's config when given) at its batch and length.
void check_training_memory(const Arguments& args, const TrainConfig& config, const ModelConfig& model_config);
// minimind resume, train --resume: the model and settings the run directory records (config.json,
// train_config.json); a directory without them is left to the resume to refuse.
void check_resumed_memory(const Arguments& args, const std::filesystem::path& run_dir);
// minimind eval: the model directory's config at batch x seq_len.
void check_evaluation_memory(const Arguments& args, const std::filesystem::path& model_dir, int64_t batch,
                             int64_t seq_len);

}  // namespace minimind::cli
