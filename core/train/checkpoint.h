// Training checkpoints: one directory per step, checkpoints/step-000123/, holding the model (config.json +
// model.safetensors), the optimizer moments (trainer_state.safetensors), the rest of the trainer's state
// (trainer_state.json) and, written last, a COMPLETE marker listing each file's size and CRC-32C.
//
// A checkpoint is built under a temporary name (step-000123.tmp-<pid>), every file and the directory are
// flushed to disk, and only then is it renamed to its final name and the parent synced. So a directory under
// a final name is always complete, and a crash or kill at any moment leaves either no new checkpoint or a
// whole one, never touching the earlier ones. Reading verifies the marker and every checksum before use.
//
// While a temporary directory is in use, its writer holds an flock on <temporary name>.lock beside it; a
// temporary whose lock no live process holds is a leftover and is removed by the next write or prune.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "data/batch_loader.h"
#include "io/complete_marker.h"
#include "model/minimind_model.h"

namespace minimind {

// CheckpointError (a checkpoint that does not verify or read) comes from io/complete_marker.h.

// A checkpoint that could not be written (disk full, an I/O error). The message says what failed and where
// (the file, the system's reason, the bytes asked and written), that the temporary directory was removed and
// that the previous checkpoint is intact; `error` holds the system's error code, if any.
class CheckpointWriteError : public std::runtime_error {
 public:
  CheckpointWriteError(const std::string& message, std::error_code error)
      : std::runtime_error(message), error(error) {}
  std::error_code error;
};

// Everything besides the model parameters that a resumed run needs to continue bit for bit.
struct TrainerState {
  int64_t step = 0;             // optimizer updates done; names the checkpoint directory
  int64_t micro_step = 0;       // micro-batches consumed (accumulation position)
  int64_t epoch = 0;
  int64_t optimizer_steps = 0;  // AdamW::steps(), which sets its bias correction
  int64_t schedule_step = 0;    // position on the learning-rate schedule
  LoaderState loader;
  // Named random generator states (e.g. "dropout", "sampling"), each as the generator's words.
  std::map<std::string, std::vector<uint64_t>> rng_states;
  nlohmann::json numerical_guard;  // opaque to checkpoints: the guard's own serialisation
  std::optional<double> best_validation_loss;
  std::optional<int64_t> best_validation_step;
  nlohmann::json run_config;  // opaque: the run's configuration as the trainer records it
  // AdamW's first and second moments over the whole parameter buffer: [layout.total()] in the dtype of the
  // model's master weights.
  // Written from any device; read back as host tensors (copy them into AdamW's buffers with Backend::copy).
  Tensor first_moment;
  Tensor second_moment;
};

struct LoadedCheckpoint {
  std::filesystem::path directory;
  std::unique_ptr<MiniMindModel> model;
  TrainerState state;
};

// "step-000123" (at least six digits).
std::string checkpoint_directory_name(int64_t step);

// Writes run_dir/checkpoints/step-NNNNNN/ for state.step (the model's master weights) and returns its path.
// An existing checkpoint of the same step is replaced atomically. Temporary directories that no live writer
// holds are removed first. Throws std::invalid_argument when the moments do not match the model's layout and
// dtype, CheckpointWriteError on I/O failure (std::bad_alloc as itself); in every failure case no directory
// under the final name is created or damaged, and the temporary directory is removed.
std::filesystem::path write_checkpoint(const std::filesystem::path& run_dir, const MiniMindModel& model,
                                       const TrainerState& state);

// Checks the COMPLETE marker and the size and CRC-32C of every file it lists; throws CheckpointError naming
// the file that is missing, truncated or corrupt, or saying that the marker is absent (an incomplete write).
void verify_checkpoint(const std::filesystem::path& checkpoint_dir);

// The precision to load a checkpoint's model in, chosen from its trainer state (the run's recorded config):
// a run moves between devices and precisions, its checkpoints holding the master weights.
using PrecisionForState = std::function<Precision(const TrainerState& state)>;

// Verifies, then loads the model (computing in `precision`; its master weights, and the moments, in
// precision.master()) and the trainer state. Throws CheckpointError as above, or when the state's format
// version is unknown or the moments do not fit the model.
LoadedCheckpoint read_checkpoint(const std::filesystem::path& checkpoint_dir, Backend& backend,
                                 Precision precision = Precision::f32());
LoadedCheckpoint read_checkpoint(const std::filesystem::path& checkpoint_dir, Backend& backend,
                                 const PrecisionForState& precision);

// The complete checkpoints (final name and a COMPLETE marker) in run_dir/checkpoints, by increasing step.
// Temporary directories are ignored.
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& run_dir);

// The newest complete checkpoint, or none. It is not verified here; read_checkpoint does that.
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& run_dir);

struct SkippedCheckpoint {
  std::filesystem::path directory;
  std::string problem;  // the CheckpointError's message: the file and what is wrong with it
};

struct ResumableCheckpoint {
  LoadedCheckpoint checkpoint;
  std::vector<SkippedCheckpoint> skipped;  // newer checkpoints that did not verify or read, newest first
};

// Reads the newest checkpoint of run_dir that verifies and reads, passing over newer damaged ones (and
// final-named directories without a marker), each reported with its problem. Throws CheckpointError when
// run_dir has no checkpoint, or when none of them reads: then the message lists each with its problem and
// says what can be done.
ResumableCheckpoint read_latest_intact_checkpoint(const std::filesystem::path& run_dir, Backend& backend,
                                                  Precision precision = Precision::f32());
ResumableCheckpoint read_latest_intact_checkpoint(const std::filesystem::path& run_dir, Backend& backend,
                                                  const PrecisionForState& precision);

// Renames a checkpoint that does not verify to <name>.damaged (or .damaged-2, ...) and returns the new path:
// out of the listing and of pruning, kept for inspection. A run resumed from an older checkpoint sets aside
// the newer ones it skipped, which would otherwise count among the newest when pruning and push out the
// intact ones.
std::filesystem::path set_aside_damaged_checkpoint(const std::filesystem::path& checkpoint_dir);

// The step a checkpoint directory name stands for ("step-000123" -> 123), or none for other names.
std::optional<int64_t> checkpoint_step(const std::filesystem::path& checkpoint_dir);

// Keeps the newest `keep_last` (>= 1) complete checkpoints and the one of `best_step` (the best validation
// loss), removes the other complete ones and the temporary directories that no live writer holds. A
// checkpoint is first renamed to a temporary name and then deleted, so an interrupted prune never leaves a
// partial directory under a final name. Returns the removed checkpoints.
std::vector<std::filesystem::path> prune_checkpoints(const std::filesystem::path& run_dir, int keep_last,
                                                     std::optional<int64_t> best_step = std::nullopt);

}  // namespace minimind
