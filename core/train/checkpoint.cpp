// Checkpoint directories: built under a temporary name held by a lock, synced, renamed into place; verified
// by the checksums of the COMPLETE marker before anything is loaded.
#include "train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <new>
#include <sstream>
#include <system_error>
#include <vector>

#include "io/atomic_file.h"
#include "io/file_lock.h"
#include "io/safetensors.h"
#include "io/strict_json.h"
#include "model/model_dir.h"

namespace minimind {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kCheckpointsFolder = "checkpoints";
constexpr const char* kStepPrefix = "step-";
constexpr const char* kTemporaryInfix = ".tmp-";
constexpr const char* kLockSuffix = ".lock";
constexpr const char* kDamagedSuffix = ".damaged";
constexpr const char* kConfigFile = "config.json";
constexpr const char* kModelFile = "model.safetensors";
constexpr const char* kMomentsFile = "trainer_state.safetensors";
constexpr const char* kStateFile = "trainer_state.json";
constexpr const char* kFirstMoment = "first_moment";
constexpr const char* kSecondMoment = "second_moment";
constexpr const char* kStateFormat = "minimind-trainer-state";

// The files every checkpoint holds besides the marker, in the order the marker lists them.
const std::vector<std::string>& checkpoint_files() {
  static const std::vector<std::string> files = {kConfigFile, kModelFile, kMomentsFile, kStateFile};
  return files;
}

[[noreturn]] void io_failure(const fs::path& path, const std::string& step, int error) {
  throw std::runtime_error("checkpoint: " + path.string() + ": " + step + " failed: " + std::strerror(error));
}

// fsync of a directory, so that the names created or renamed in it survive a crash.
void sync_directory(const fs::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) io_failure(directory, "opening the directory to sync it", errno);
  const int result = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  // Some file systems cannot sync a directory and say so with EINVAL; there is nothing more to do then.
  if (result != 0 && error != EINVAL) io_failure(directory, "fsync of the directory", error);
}

// Creates `directory` (and its parents) and syncs each parent in which a name was created.
void create_directories_durably(const fs::path& directory) {
  if (fs::is_directory(directory)) return;
  const fs::path parent = directory.parent_path();
  if (!parent.empty()) create_directories_durably(parent);
  std::error_code error;
  if (!fs::create_directory(directory, error) && error)
    throw std::runtime_error("checkpoint: creating " + directory.string() + " failed: " + error.message());
  sync_directory(parent.empty() ? fs::path(".") : parent);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CheckpointError("checkpoint file " + path.string() + " is missing or unreadable");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A field of a checkpoint JSON file, with an error naming the file and the field.
template <typename T>
T field(const json& object, const char* name, const fs::path& file) {
  try {
    return object.at(name).get<T>();
  } catch (const json::exception& error) {
    throw CheckpointError("checkpoint file " + file.string() + ": field '" + name +
                          "' is missing or mistyped: " + error.what());
  }
}

json parse_json(const fs::path& path) {
  try {
    return parse_json_document(read_text(path), "checkpoint file " + path.string());
  } catch (const JsonDocumentError& error) {
    throw CheckpointError(error.what());
  }
}

template <typename T>
json optional_to_json(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

template <typename T>
std::optional<T> optional_field(const json& object, const char* name, const fs::path& file) {
  if (!object.contains(name) || object.at(name).is_null()) return std::nullopt;
  return field<T>(object, name, file);
}

json state_to_json(const TrainerState& state, DType dtype, int64_t elements) {
  json rng = json::object();
  for (const auto& [name, words] : state.rng_states) rng[name] = words;
  return json{
      {"format", kStateFormat},
      {"format_version", kCheckpointFormatVersion},
      {"step", state.step},
      {"micro_step", state.micro_step},
      {"epoch", state.epoch},
      {"optimizer_steps", state.optimizer_steps},
      {"schedule_step", state.schedule_step},
      {"loader", state.loader},
      {"rng_states", rng},
      {"numerical_guard", state.numerical_guard},
      {"best_validation_loss", optional_to_json(state.best_validation_loss)},
      {"best_validation_step", optional_to_json(state.best_validation_step)},
      {"run_config", state.run_config},
      {"moments", {{"file", kMomentsFile}, {"dtype", std::string(dtype_name(dtype))}, {"elements", elements}}},
  };
}

void check_format(const json& object, const char* expected_format, const fs::path& file) {
  if (!object.is_object()) throw CheckpointError("checkpoint file " + file.string() + " is not a JSON object");
  const auto format = field<std::string>(object, "format", file);
  if (format != expected_format)
    throw CheckpointError("checkpoint file " + file.string() + ": format '" + format + "', expected '" +
                          expected_format + "'");
  const auto version = field<int>(object, "format_version", file);
  if (version != kCheckpointFormatVersion)
    throw CheckpointError("checkpoint file " + file.string() + ": format version " + std::to_string(version) +
                          ", this build reads version " + std::to_string(kCheckpointFormatVersion));
}

TrainerState state_from_json(const json& object, const fs::path& file) {
  check_format(object, kStateFormat, file);
  TrainerState state;
  state.step = field<int64_t>(object, "step", file);
  state.micro_step = field<int64_t>(object, "micro_step", file);
  state.epoch = field<int64_t>(object, "epoch", file);
  state.optimizer_steps = field<int64_t>(object, "optimizer_steps", file);
  state.schedule_step = field<int64_t>(object, "schedule_step", file);
  try {
    state.loader = object.at("loader").get<LoaderState>();
  } catch (const std::exception& error) {
    throw CheckpointError("checkpoint file " + file.string() + ": field 'loader': " + error.what());
  }
  state.rng_states = field<std::map<std::string, std::vector<uint64_t>>>(object, "rng_states", file);
  state.numerical_guard = object.value("numerical_guard", json());
  state.best_validation_loss = optional_field<double>(object, "best_validation_loss", file);
  state.best_validation_step = optional_field<int64_t>(object, "best_validation_step", file);
  state.run_config = object.value("run_config", json());
  return state;
}

void check_moment(const Tensor& moment, const char* name, const MiniMindModel& model) {
  if (!moment.defined())
    throw std::invalid_argument(std::string("write_checkpoint: TrainerState::") + name + " is undefined");
  const Shape expected{model.layout().total()};
  const DType master = model.precision().master();
  if (moment.shape() != expected || moment.dtype() != master)
    throw std::invalid_argument(std::string("write_checkpoint: TrainerState::") + name + " is " +
                                shape_string(moment.shape()) + " " + std::string(dtype_name(moment.dtype())) +
                                ", the model needs " + shape_string(expected) + " " +
                                std::string(dtype_name(master)));
}

bool is_temporary_name(const std::string& name) {
  return name.rfind(kStepPrefix, 0) == 0 && name.find(kTemporaryInfix) != std::string::npos;
}

// What a temporary entry belongs to: "step-000123.tmp-<pid>" for that directory, its lock file
// (".lock"), and the names its writer moves things to ("-replaced", "-pruned"). One lock covers them all.
std::string temporary_key(const std::string& name) {
  size_t end = name.find(kTemporaryInfix) + std::strlen(kTemporaryInfix);
  while (end < name.size() && name[end] >= '0' && name[end] <= '9') ++end;
  return name.substr(0, end);
}

fs::path lock_path(const fs::path& checkpoints, const std::string& key) {
  return checkpoints / (key + kLockSuffix);
}

// Removes the temporary directories (and lock files) that no live process holds the lock of: leftovers of a
// writer that crashed or was killed. A PID in the name proves nothing (it may be reused, by this very process
// too); the lock dies with its holder. Best effort: whatever stays is ignored by everything else anyway.
void remove_stale_temporaries(const fs::path& checkpoints) {
  std::error_code error;
  if (!fs::is_directory(checkpoints, error)) return;
  std::map<std::string, std::vector<fs::path>> entries_by_key;
  for (const auto& item : fs::directory_iterator(checkpoints, error)) {
    const std::string name = item.path().filename().string();
    if (is_temporary_name(name)) entries_by_key[temporary_key(name)].push_back(item.path());
  }
  for (const auto& [key, entries] : entries_by_key) {
    std::optional<FileLock> lock;
    try {
      lock = FileLock::try_acquire(lock_path(checkpoints, key));
    } catch (const std::system_error&) {
      continue;  // cannot tell: leave it
    }
    if (!lock) continue;  // its writer is alive and at work
    for (const fs::path& entry : entries)
      if (entry != lock->path()) fs::remove_all(entry, error);
  }  // each lock removes its file as it is released
}

// Puts the finished temporary directory under its final name. If a checkpoint of that name exists, the two
// are exchanged atomically (so the name never disappears) and the old one is deleted afterwards.
void move_into_place(const fs::path& temporary, const fs::path& final_path) {
  if (::rename(temporary.c_str(), final_path.c_str()) == 0) return;
  if (errno != ENOTEMPTY && errno != EEXIST) io_failure(final_path, "rename from " + temporary.string(), errno);
  if (::renameat2(AT_FDCWD, temporary.c_str(), AT_FDCWD, final_path.c_str(), RENAME_EXCHANGE) == 0) {
    sync_directory(final_path.parent_path());
    // It now holds the replaced checkpoint. The new one is in place: a copy that cannot be deleted is only a
    // leftover, which the next write removes.
    std::error_code ignored;
    fs::remove_all(temporary, ignored);
    return;
  }
  if (errno != EINVAL && errno != ENOSYS) io_failure(final_path, "exchange with " + temporary.string(), errno);
  // No atomic exchange on this file system: move the old one aside first. A crash in between leaves the new
  // checkpoint under its temporary name and the old one under another, both ignored; earlier steps are intact.
  const fs::path aside = temporary.string() + "-replaced";
  if (::rename(final_path.c_str(), aside.c_str()) != 0) io_failure(final_path, "rename to " + aside.string(), errno);
  if (::rename(temporary.c_str(), final_path.c_str()) != 0)
    io_failure(final_path, "rename from " + temporary.string(), errno);
  sync_directory(final_path.parent_path());
  std::error_code ignored;
  fs::remove_all(aside, ignored);  // as above
}

// Writes every file of the checkpoint into `temporary` (which must not exist), the marker last.
void build_checkpoint(const fs::path& temporary, const MiniMindModel& model, const TrainerState& state) {
  if (!fs::create_directory(temporary))
    throw std::runtime_error("checkpoint: " + temporary.string() + " exists although it was just removed");
  // Each of these writes its file atomically: written, fsynced, renamed, directory fsynced.
  const DType master = model.precision().master();
  save_model(model, temporary, master);
  Backend& backend = model.backend();
  const std::vector<NamedTensor> moments = {{kFirstMoment, backend.to_host(state.first_moment)},
                                            {kSecondMoment, backend.to_host(state.second_moment)}};
  save_safetensors(temporary / kMomentsFile, moments, {{"format", kStateFormat}});
  const std::string state_text = state_to_json(state, master, model.layout().total()).dump(2) + "\n";
  write_file_atomically(temporary / kStateFile, std::span<const char>(state_text.data(), state_text.size()));
  write_complete_marker(temporary, checkpoint_files(), state.step);
}

// The error of a failed write: the cause (which already names the file, the step, the system's reason and,
// for a write, the bytes asked and written), then what became of the temporary and of the earlier
// checkpoints.
CheckpointWriteError write_failure(const std::exception& cause, int64_t step, const fs::path& final_path,
                                   const fs::path& temporary, const std::optional<fs::path>& previous,
                                   bool placed) {
  std::error_code code;
  if (const auto* system = dynamic_cast<const std::system_error*>(&cause)) code = system->code();
  if (placed)
    return CheckpointWriteError("checkpoint " + final_path.string() +
                                    " is in place, but syncing its directory " +
                                    "failed, so it may not survive a power loss: " + cause.what(),
                                code);
  std::error_code ignored;
  const std::string temporary_fate =
      fs::exists(temporary, ignored)
          ? "the temporary directory " + temporary.string() + " could not be removed"
          : "the temporary directory " + temporary.string() + " was removed";
  const std::string previous_fate =
      previous ? "the previous checkpoint " + previous->string() + " is intact"
               : "no earlier checkpoint exists in " + final_path.parent_path().string();
  return CheckpointWriteError("checkpoint of step " + std::to_string(step) + " not written: " + cause.what() +
                                  "; " + temporary_fate + "; " + previous_fate,
                              code);
}

// The directories under a final name, newest first: the complete ones and those without a marker (so that
// resume can say why it passes them over).
std::vector<fs::path> final_named_directories_newest_first(const fs::path& run_dir) {
  std::vector<std::pair<int64_t, fs::path>> found;
  std::error_code error;
  for (const auto& item : fs::directory_iterator(run_dir / kCheckpointsFolder, error)) {
    const std::optional<int64_t> step = checkpoint_step(item.path());
    if (step && item.is_directory(error)) found.emplace_back(*step, item.path());
  }
  std::sort(found.begin(), found.end(), std::greater<>());
  std::vector<fs::path> paths;
  for (auto& [step, path] : found) paths.push_back(std::move(path));
  return paths;
}

}  // namespace

std::string checkpoint_directory_name(int64_t step) {
  if (step < 0) throw std::invalid_argument("checkpoint_directory_name: negative step " + std::to_string(step));
  char digits[32];
  std::snprintf(digits, sizeof digits, "%06lld", static_cast<long long>(step));
  return kStepPrefix + std::string(digits);
}

std::optional<int64_t> checkpoint_step(const fs::path& checkpoint_dir) {
  const std::string name = checkpoint_dir.filename().string();
  const size_t prefix = std::strlen(kStepPrefix);
  if (name.size() <= prefix || name.rfind(kStepPrefix, 0) != 0 || name.size() - prefix > 18) return std::nullopt;
  int64_t step = 0;
  for (size_t i = prefix; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    step = step * 10 + (name[i] - '0');
  }
  return step;
}

fs::path write_checkpoint(const fs::path& run_dir, const MiniMindModel& model, const TrainerState& state) {
  check_moment(state.first_moment, "first_moment", model);
  check_moment(state.second_moment, "second_moment", model);
  const fs::path checkpoints = run_dir / kCheckpointsFolder;
  const std::string name = checkpoint_directory_name(state.step);
  const fs::path final_path = checkpoints / name;
  const std::string temporary_name = name + kTemporaryInfix + std::to_string(::getpid());
  const fs::path temporary = checkpoints / temporary_name;
  std::optional<fs::path> previous;
  bool placed = false;
  try {
    create_directories_durably(checkpoints);
    previous = latest_checkpoint(run_dir);
    // Held until the directory has its final name or is gone: it tells other processes that it is in use.
    const FileLock lock = FileLock::acquire(lock_path(checkpoints, temporary_name));
    remove_stale_temporaries(checkpoints);  // not ours: we hold its lock
    try {
      fs::remove_all(temporary);  // a leftover under our name: certainly stale, as we hold its lock
      build_checkpoint(temporary, model, state);
      move_into_place(temporary, final_path);
      placed = true;
      sync_directory(checkpoints);
    } catch (...) {
      std::error_code ignored;
      fs::remove_all(temporary, ignored);  // frees the space before anyone is told
      throw;
    }
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& cause) {
    throw write_failure(cause, state.step, final_path, temporary, previous, placed);
  }
  return final_path;
}

void verify_checkpoint(const fs::path& checkpoint_dir) {
  verify_complete_marker(checkpoint_dir, checkpoint_files());
}

LoadedCheckpoint read_checkpoint(const fs::path& checkpoint_dir, Backend& backend, Precision precision) {
  return read_checkpoint(checkpoint_dir, backend, [precision](const TrainerState&) { return precision; });
}

LoadedCheckpoint read_checkpoint(const fs::path& checkpoint_dir, Backend& backend,
                                 const PrecisionForState& precision_for) {
  verify_checkpoint(checkpoint_dir);
  LoadedCheckpoint loaded;
  loaded.directory = checkpoint_dir;
  const fs::path state_path = checkpoint_dir / kStateFile;
  loaded.state = state_from_json(parse_json(state_path), state_path);
  const Precision precision = precision_for(loaded.state);
  const DType dtype = precision.master();
  // Said here, not as a damaged checkpoint below: the checkpoint is fine, the device cannot take it so.
  if (!backend.supports_compute(precision.compute))
    throw std::invalid_argument("read_checkpoint: the " + std::string(device_name(backend.device())) +
                                " backend does not compute in " + std::string(dtype_name(precision.compute)));
  try {
    // load_model's pieces: it would verify the model's files again, and they have just been verified.
    loaded.model =
        std::make_unique<MiniMindModel>(load_config(checkpoint_dir / kConfigFile), backend, precision);
    load_weights(*loaded.model, checkpoint_dir / kModelFile);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& error) {
    throw CheckpointError("checkpoint " + checkpoint_dir.string() + ": the model does not load: " + error.what());
  }

  const fs::path moments_path = checkpoint_dir / kMomentsFile;
  const Shape expected{loaded.model->layout().total()};
  try {
    const SafetensorsFile moments = SafetensorsFile::open(moments_path);
    for (const char* name : {kFirstMoment, kSecondMoment})
      if (moments.entry(name).shape != expected)
        throw CheckpointError("checkpoint file " + moments_path.string() + ": tensor '" + name + "' has shape " +
                              shape_string(moments.entry(name).shape) + ", the model needs " +
                              shape_string(expected));
    loaded.state.first_moment = moments.read(kFirstMoment, dtype);
    loaded.state.second_moment = moments.read(kSecondMoment, dtype);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& error) {
    throw CheckpointError("checkpoint file " + moments_path.string() + ": " + error.what());
  }
  return loaded;
}

std::vector<fs::path> list_checkpoints(const fs::path& run_dir) {
  std::vector<fs::path> paths = final_named_directories_newest_first(run_dir);
  std::erase_if(paths, [](const fs::path& path) { return !has_complete_marker(path); });
  std::reverse(paths.begin(), paths.end());
  return paths;
}

std::optional<fs::path> latest_checkpoint(const fs::path& run_dir) {
  std::vector<fs::path> all = list_checkpoints(run_dir);
  if (all.empty()) return std::nullopt;
  return all.back();
}

ResumableCheckpoint read_latest_intact_checkpoint(const fs::path& run_dir, Backend& backend,
                                                  Precision precision) {
  return read_latest_intact_checkpoint(run_dir, backend,
                                       [precision](const TrainerState&) { return precision; });
}

ResumableCheckpoint read_latest_intact_checkpoint(const fs::path& run_dir, Backend& backend,
                                                  const PrecisionForState& precision) {
  const std::vector<fs::path> candidates = final_named_directories_newest_first(run_dir);
  if (candidates.empty())
    throw CheckpointError(run_dir.string() + ": no complete checkpoint to resume from (" +
                          (run_dir / kCheckpointsFolder).string() + " holds no step-N directory)");
  ResumableCheckpoint result;
  for (const fs::path& candidate : candidates) {
    try {
      result.checkpoint = read_checkpoint(candidate, backend, precision);
      return result;
    } catch (const CheckpointError& error) {
      result.skipped.push_back({candidate, error.what()});
    }
  }
  std::string message = run_dir.string() + ": no checkpoint to resume from verifies:";
  for (const SkippedCheckpoint& skipped : result.skipped)
    message += "\n  " + skipped.directory.filename().string() + ": " + skipped.problem;
  message +=
      "\nWhat you can do: restore the damaged files from a backup, or start a new run in another output "
      "directory (from scratch, or from the weights of a checkpoint whose config.json and model.safetensors "
      "are "
      "intact: minimind train --from CHECKPOINT). The checkpoints are left as they are for inspection.";
  throw CheckpointError(message);
}

fs::path set_aside_damaged_checkpoint(const fs::path& checkpoint_dir) {
  fs::path aside = checkpoint_dir.string() + kDamagedSuffix;
  for (int attempt = 2; fs::exists(aside); ++attempt)
    aside = checkpoint_dir.string() + kDamagedSuffix + "-" + std::to_string(attempt);
  if (::rename(checkpoint_dir.c_str(), aside.c_str()) != 0)
    io_failure(checkpoint_dir, "rename to " + aside.string(), errno);
  sync_directory(checkpoint_dir.parent_path());
  return aside;
}

std::vector<fs::path> prune_checkpoints(const fs::path& run_dir, int keep_last, std::optional<int64_t> best_step) {
  if (keep_last < 1)
    throw std::invalid_argument("prune_checkpoints: keep_last must be at least 1, got " + std::to_string(keep_last));
  const fs::path checkpoints = run_dir / kCheckpointsFolder;
  remove_stale_temporaries(checkpoints);
  const std::vector<fs::path> all = list_checkpoints(run_dir);
  std::vector<fs::path> removed;
  const size_t keep_from = all.size() > static_cast<size_t>(keep_last) ? all.size() - keep_last : 0;
  for (size_t i = 0; i < keep_from; ++i) {
    if (best_step && checkpoint_step(all[i]) == best_step) continue;
    // Renamed away first (atomically), so no partly deleted directory ever carries a final name; under a
    // temporary name whose lock is held, so no other process takes it for a leftover meanwhile.
    const std::string doomed_name = all[i].filename().string() + kTemporaryInfix + std::to_string(::getpid());
    const FileLock lock = FileLock::acquire(lock_path(checkpoints, doomed_name));
    const fs::path doomed = checkpoints / (doomed_name + "-pruned");
    if (::rename(all[i].c_str(), doomed.c_str()) != 0) io_failure(all[i], "rename to " + doomed.string(), errno);
    removed.push_back(all[i]);
    fs::remove_all(doomed);
  }
  if (!removed.empty()) sync_directory(checkpoints);
  return removed;
}

}  // namespace minimind
