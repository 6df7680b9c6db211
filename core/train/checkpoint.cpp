// Checkpoint directories: built under a temporary name, synced, renamed into place; verified by the
// checksums of the COMPLETE marker before anything is loaded.
#include "train/checkpoint.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

#include "io/atomic_file.h"
#include "io/crc32c.h"
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
constexpr const char* kMarker = "COMPLETE";
constexpr const char* kConfigFile = "config.json";
constexpr const char* kModelFile = "model.safetensors";
constexpr const char* kMomentsFile = "trainer_state.safetensors";
constexpr const char* kStateFile = "trainer_state.json";
constexpr const char* kFirstMoment = "first_moment";
constexpr const char* kSecondMoment = "second_moment";
constexpr const char* kMarkerFormat = "minimind-checkpoint";
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

struct FileDigest {
  uint64_t bytes = 0;
  uint32_t crc = 0;
};

// Streams the file through CRC-32C. Throws CheckpointError naming the file if it cannot be read.
FileDigest digest_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CheckpointError("checkpoint file " + path.string() + " is missing or unreadable");
  FileDigest digest;
  std::vector<char> chunk(size_t{1} << 20);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto count = static_cast<size_t>(in.gcount());
    digest.crc = crc32c(chunk.data(), count, digest.crc);
    digest.bytes += count;
  }
  if (in.bad()) throw CheckpointError("checkpoint file " + path.string() + ": read error");
  return digest;
}

std::string hex32(uint32_t value) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", value);
  return text;
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
  if (moment.shape() != expected || moment.dtype() != model.dtype())
    throw std::invalid_argument(std::string("write_checkpoint: TrainerState::") + name + " is " +
                                shape_string(moment.shape()) + " " + std::string(dtype_name(moment.dtype())) +
                                ", the model needs " + shape_string(expected) + " " +
                                std::string(dtype_name(model.dtype())));
}

bool is_temporary_name(const std::string& name) {
  return name.rfind(kStepPrefix, 0) == 0 && name.find(kTemporaryInfix) != std::string::npos;
}

// The pid in "step-000123.tmp-<pid>..." or 0.
pid_t temporary_owner(const std::string& name) {
  const size_t at = name.find(kTemporaryInfix);
  if (at == std::string::npos) return 0;
  try {
    return static_cast<pid_t>(std::stol(name.substr(at + std::strlen(kTemporaryInfix))));
  } catch (const std::exception&) {
    return 0;
  }
}

// Removes the temporary directories whose writing process no longer exists.
void remove_stale_temporaries(const fs::path& checkpoints) {
  std::error_code error;
  if (!fs::is_directory(checkpoints, error)) return;
  std::vector<fs::path> stale;
  for (const auto& item : fs::directory_iterator(checkpoints, error)) {
    const std::string name = item.path().filename().string();
    if (!is_temporary_name(name)) continue;
    const pid_t owner = temporary_owner(name);
    if (owner > 0 && owner != ::getpid() && ::kill(owner, 0) != 0 && errno == ESRCH) stale.push_back(item.path());
  }
  for (const fs::path& path : stale) fs::remove_all(path, error);  // best effort: they are ignored anyway
}

// Puts the finished temporary directory under its final name. If a checkpoint of that name exists, the two
// are exchanged atomically (so the name never disappears) and the old one is deleted afterwards.
void move_into_place(const fs::path& temporary, const fs::path& final_path) {
  if (::rename(temporary.c_str(), final_path.c_str()) == 0) return;
  if (errno != ENOTEMPTY && errno != EEXIST) io_failure(final_path, "rename from " + temporary.string(), errno);
  if (::renameat2(AT_FDCWD, temporary.c_str(), AT_FDCWD, final_path.c_str(), RENAME_EXCHANGE) == 0) {
    sync_directory(final_path.parent_path());
    fs::remove_all(temporary);  // now holds the replaced checkpoint
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
  fs::remove_all(aside);
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
  create_directories_durably(checkpoints);
  remove_stale_temporaries(checkpoints);

  const std::string name = checkpoint_directory_name(state.step);
  const fs::path final_path = checkpoints / name;
  const fs::path temporary = checkpoints / (name + kTemporaryInfix + std::to_string(::getpid()));
  fs::remove_all(temporary);  // a leftover of an earlier failed attempt by this process
  fs::create_directory(temporary);
  try {
    // Each of these writes its file atomically: written, fsynced, renamed, directory fsynced.
    save_model(model, temporary, model.dtype());
    Backend& backend = model.backend();
    const std::vector<NamedTensor> moments = {{kFirstMoment, backend.to_host(state.first_moment)},
                                              {kSecondMoment, backend.to_host(state.second_moment)}};
    save_safetensors(temporary / kMomentsFile, moments, {{"format", kStateFormat}});
    const std::string state_text = state_to_json(state, model.dtype(), model.layout().total()).dump(2) + "\n";
    write_file_atomically(temporary / kStateFile, std::span<const char>(state_text.data(), state_text.size()));

    // The marker lists what is on disk now (read back), so a file damaged in writing cannot be certified.
    json files = json::array();
    for (const std::string& file : checkpoint_files()) {
      const FileDigest digest = digest_file(temporary / file);
      files.push_back({{"name", file}, {"bytes", digest.bytes}, {"crc32c", hex32(digest.crc)}});
    }
    const json marker = {{"format", kMarkerFormat},
                         {"format_version", kCheckpointFormatVersion},
                         {"step", state.step},
                         {"files", files}};
    const std::string marker_text = marker.dump(2) + "\n";
    write_file_atomically(temporary / kMarker, std::span<const char>(marker_text.data(), marker_text.size()));

    move_into_place(temporary, final_path);
    sync_directory(checkpoints);
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(temporary, ignored);
    throw;
  }
  return final_path;
}

void verify_checkpoint(const fs::path& checkpoint_dir) {
  if (!fs::is_directory(checkpoint_dir))
    throw CheckpointError("checkpoint " + checkpoint_dir.string() + " does not exist or is not a directory");
  const fs::path marker_path = checkpoint_dir / kMarker;
  if (!fs::exists(marker_path))
    throw CheckpointError("checkpoint " + checkpoint_dir.string() + " is incomplete: it has no " + kMarker +
                          " marker (the write did not finish)");
  const json marker = parse_json(marker_path);
  check_format(marker, kMarkerFormat, marker_path);
  const json files = marker.value("files", json());
  if (!files.is_array()) throw CheckpointError("checkpoint file " + marker_path.string() + ": no 'files' list");

  std::vector<std::string> listed;
  for (const json& entry : files) {
    const auto name = field<std::string>(entry, "name", marker_path);
    const auto bytes = field<uint64_t>(entry, "bytes", marker_path);
    const auto crc = field<std::string>(entry, "crc32c", marker_path);
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      throw CheckpointError("checkpoint file " + marker_path.string() + ": bad file name '" + name + "'");
    listed.push_back(name);
    const fs::path path = checkpoint_dir / name;
    const FileDigest digest = digest_file(path);
    if (digest.bytes != bytes)
      throw CheckpointError("checkpoint file " + path.string() + " is " + std::to_string(digest.bytes) +
                            " bytes, the marker records " + std::to_string(bytes) +
                            (digest.bytes < bytes ? " (truncated)" : ""));
    if (hex32(digest.crc) != crc)
      throw CheckpointError("checkpoint file " + path.string() + " is corrupt: CRC-32C " + hex32(digest.crc) +
                            ", the marker records " + crc);
  }
  for (const std::string& required : checkpoint_files())
    if (std::find(listed.begin(), listed.end(), required) == listed.end())
      throw CheckpointError("checkpoint file " + marker_path.string() + " does not list " + required);
}

LoadedCheckpoint read_checkpoint(const fs::path& checkpoint_dir, Backend& backend, DType dtype) {
  verify_checkpoint(checkpoint_dir);
  LoadedCheckpoint loaded;
  loaded.directory = checkpoint_dir;
  const fs::path state_path = checkpoint_dir / kStateFile;
  loaded.state = state_from_json(parse_json(state_path), state_path);
  try {
    loaded.model = load_model(checkpoint_dir, backend, dtype);
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
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& error) {
    throw CheckpointError("checkpoint file " + moments_path.string() + ": " + error.what());
  }
  return loaded;
}

std::vector<fs::path> list_checkpoints(const fs::path& run_dir) {
  const fs::path checkpoints = run_dir / kCheckpointsFolder;
  std::vector<std::pair<int64_t, fs::path>> found;
  std::error_code error;
  if (!fs::is_directory(checkpoints, error)) return {};
  for (const auto& item : fs::directory_iterator(checkpoints, error)) {
    const std::optional<int64_t> step = checkpoint_step(item.path());
    if (step && item.is_directory(error) && fs::exists(item.path() / kMarker, error))
      found.emplace_back(*step, item.path());
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> paths;
  for (auto& [step, path] : found) paths.push_back(std::move(path));
  return paths;
}

std::optional<fs::path> latest_checkpoint(const fs::path& run_dir) {
  std::vector<fs::path> all = list_checkpoints(run_dir);
  if (all.empty()) return std::nullopt;
  return all.back();
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
    // Renamed away first (atomically), so no partly deleted directory ever carries a final name.
    const fs::path doomed = all[i].string() + kTemporaryInfix + std::to_string(::getpid()) + "-pruned";
    if (::rename(all[i].c_str(), doomed.c_str()) != 0) io_failure(all[i], "rename to " + doomed.string(), errno);
    removed.push_back(all[i]);
    fs::remove_all(doomed);
  }
  if (!removed.empty()) sync_directory(checkpoints);
  return removed;
}

}  // namespace minimind
