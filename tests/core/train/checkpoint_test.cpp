// Checkpoints on disk. Reference: the values written (a state determined by its step), compared bit for bit
// after reading back; damaged checkpoints built by hand (a flipped byte, a truncated file, no marker) must be
// refused with an error naming the file, and resuming passes over them to the newest intact one; listing,
// latest and pruning against the expected step sets; leftover temporaries against flock(2) held by a live
// child process; a full disk (a real small tmpfs, and a file-size limit set in the kernel) against the bytes
// of the previous checkpoint.
#include "train/checkpoint.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <system_error>

#include "backend/cpu/cpu_backend.h"
#include "core/train/checkpoint_test_support.h"
#include "support/file_contents.h"
#include "support/file_size_limit.h"
#include "support/scratch_directory.h"
#include "support/small_tmpfs.h"

namespace minimind {
namespace {

namespace fs = std::filesystem;
using testing::flip_byte;
using testing::state_for_step;

class CheckpointTest : public ::testing::Test {
 protected:
  fs::path write(int64_t step) { return write_checkpoint(run_.path(), model_, state_for_step(model_, base_, step)); }
  std::vector<int64_t> steps() const {
    std::vector<int64_t> result;
    for (const fs::path& p : list_checkpoints(run_.path())) result.push_back(*checkpoint_step(p));
    return result;
  }
  std::vector<std::string> names_in_checkpoints() const {
    std::vector<std::string> names;
    for (const auto& item : fs::directory_iterator(run_.path() / "checkpoints"))
      names.push_back(item.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  ScratchDirectory run_;
  CpuBackend backend_{1};
  MiniMindModel model_{testing::checkpoint_test_config(), backend_};
  Tensor base_ = testing::initial_parameters(model_, 5);
};

// The message of the CheckpointError that `action` throws, or a failure.
template <typename Action>
std::string checkpoint_error(Action action) {
  try {
    action();
  } catch (const CheckpointError& error) {
    return error.what();
  }
  ADD_FAILURE() << "no CheckpointError";
  return "";
}

TEST(CheckpointNames, StepsAndDirectoryNames) {
  EXPECT_EQ(checkpoint_directory_name(123), "step-000123");
  EXPECT_EQ(checkpoint_directory_name(12345678), "step-12345678");
  EXPECT_EQ(checkpoint_step("runs/a/checkpoints/step-000123"), 123);
  EXPECT_EQ(checkpoint_step("step-12345678"), 12345678);
  EXPECT_EQ(checkpoint_step("step-000123.tmp-77"), std::nullopt);
  EXPECT_EQ(checkpoint_step("step-"), std::nullopt);
  EXPECT_EQ(checkpoint_step("best"), std::nullopt);
  EXPECT_THROW(checkpoint_directory_name(-1), std::invalid_argument);
}

TEST_F(CheckpointTest, RoundTripIsBitIdentical) {
  const fs::path dir = write(123);
  EXPECT_EQ(dir, run_.path() / "checkpoints" / "step-000123");
  for (const char* file : {"config.json", "model.safetensors", "trainer_state.safetensors", "trainer_state.json",
                           "COMPLETE"})
    EXPECT_TRUE(fs::is_regular_file(dir / file)) << file;
  EXPECT_EQ(names_in_checkpoints(), std::vector<std::string>{"step-000123"});  // no temporaries left
  const LoadedCheckpoint loaded = read_checkpoint(dir, backend_);
  EXPECT_EQ(loaded.directory, dir);
  testing::expect_checkpoint_of_step(loaded, model_, base_, 123);
}

TEST_F(CheckpointTest, RoundTripIsBitIdenticalInDouble) {
  MiniMindModel model(testing::checkpoint_test_config(), backend_, Precision::f64());
  const Tensor base = testing::initial_parameters(model, 6);
  const fs::path dir = write_checkpoint(run_.path(), model, state_for_step(model, base, 7));
  const LoadedCheckpoint loaded = read_checkpoint(dir, backend_, Precision::f64());
  EXPECT_EQ(loaded.model->precision(), Precision::f64());
  testing::expect_checkpoint_of_step(loaded, model, base, 7);
}

TEST_F(CheckpointTest, UnsetOptionalFieldsStayUnset) {
  TrainerState state = state_for_step(model_, base_, 3);
  state.best_validation_loss.reset();
  state.best_validation_step.reset();
  state.rng_states.clear();
  const LoadedCheckpoint loaded = read_checkpoint(write_checkpoint(run_.path(), model_, state), backend_);
  EXPECT_FALSE(loaded.state.best_validation_loss.has_value());
  EXPECT_FALSE(loaded.state.best_validation_step.has_value());
  EXPECT_TRUE(loaded.state.rng_states.empty());
}

TEST_F(CheckpointTest, MomentsThatDoNotFitTheModelAreRefusedBeforeWriting) {
  TrainerState state = state_for_step(model_, base_, 3);
  state.first_moment = Tensor::zeros({5}, DType::f32);
  EXPECT_THROW(write_checkpoint(run_.path(), model_, state), std::invalid_argument);
  state = state_for_step(model_, base_, 3);
  state.second_moment = Tensor::zeros(base_.shape(), DType::f64);
  EXPECT_THROW(write_checkpoint(run_.path(), model_, state), std::invalid_argument);
  EXPECT_FALSE(latest_checkpoint(run_.path()).has_value());
}

TEST_F(CheckpointTest, FlippedByteInAnyFileIsRefusedNamingIt) {
  for (const char* file : {"model.safetensors", "trainer_state.safetensors", "trainer_state.json", "config.json"}) {
    SCOPED_TRACE(file);
    const fs::path dir = write(10);
    flip_byte(dir / file, fs::file_size(dir / file) / 2);
    const std::string message = checkpoint_error([&] { read_checkpoint(dir, backend_); });
    EXPECT_NE(message.find((dir / file).string()), std::string::npos) << message;
    EXPECT_NE(message.find("corrupt"), std::string::npos) << message;
    EXPECT_THROW(verify_checkpoint(dir), CheckpointError);
  }
}

TEST_F(CheckpointTest, TruncatedFileIsRefusedNamingIt) {
  for (const char* file : {"model.safetensors", "trainer_state.safetensors"}) {
    SCOPED_TRACE(file);
    const fs::path dir = write(10);
    fs::resize_file(dir / file, fs::file_size(dir / file) - 100);
    const std::string message = checkpoint_error([&] { read_checkpoint(dir, backend_); });
    EXPECT_NE(message.find((dir / file).string()), std::string::npos) << message;
    EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  }
}

TEST_F(CheckpointTest, MissingFileOrMarkerIsRefused) {
  fs::path dir = write(10);
  fs::remove(dir / "trainer_state.safetensors");
  std::string message = checkpoint_error([&] { read_checkpoint(dir, backend_); });
  EXPECT_NE(message.find((dir / "trainer_state.safetensors").string()), std::string::npos) << message;

  dir = write(11);
  fs::remove(dir / "COMPLETE");
  message = checkpoint_error([&] { read_checkpoint(dir, backend_); });
  EXPECT_NE(message.find("incomplete"), std::string::npos) << message;
  EXPECT_NE(message.find("COMPLETE"), std::string::npos) << message;
  // Step 11 has no marker and is not a checkpoint; step 10 is listed (it has one) and refused on reading.
  EXPECT_EQ(latest_checkpoint(run_.path()), run_.path() / "checkpoints" / "step-000010");
}

TEST_F(CheckpointTest, GarbledMarkerIsRefusedNamingIt) {
  const fs::path dir = write(10);
  std::ofstream(dir / "COMPLETE", std::ios::trunc) << "{\"format\": \"minimind-checkpoint\", \"files\"";
  const std::string message = checkpoint_error([&] { verify_checkpoint(dir); });
  EXPECT_NE(message.find((dir / "COMPLETE").string()), std::string::npos) << message;
}

TEST_F(CheckpointTest, LatestIsTheNewestCompleteOneByStepNumber) {
  EXPECT_EQ(latest_checkpoint(run_.path()), std::nullopt);
  write(5);
  write(999999);
  write(1000000);  // sorts before step-999999 as text
  write(30);
  // A temporary directory (an interrupted write) and a final-named one without its marker are ignored.
  fs::copy(run_.path() / "checkpoints" / "step-000030", run_.path() / "checkpoints" / "step-2000000.tmp-1");
  fs::create_directory(run_.path() / "checkpoints" / "step-3000000");
  fs::create_directory(run_.path() / "checkpoints" / "unrelated");
  EXPECT_EQ(steps(), (std::vector<int64_t>{5, 30, 999999, 1000000}));
  ASSERT_TRUE(latest_checkpoint(run_.path()).has_value());
  EXPECT_EQ(*latest_checkpoint(run_.path()), run_.path() / "checkpoints" / "step-1000000");
  testing::expect_checkpoint_of_step(read_checkpoint(*latest_checkpoint(run_.path()), backend_), model_, base_,
                                     1000000);
}

TEST_F(CheckpointTest, RewritingAStepReplacesItWhole) {
  write(10);
  TrainerState state = state_for_step(model_, base_, 10);
  testing::fill_scaled(model_.parameters().buffer(), base_, 3.0);
  state.run_config = {{"second", true}};
  write_checkpoint(run_.path(), model_, state);
  const LoadedCheckpoint loaded = read_checkpoint(run_.path() / "checkpoints" / "step-000010", backend_);
  EXPECT_TRUE(testing::same_bytes(loaded.model->parameters().buffer(), model_.parameters().buffer()));
  EXPECT_EQ(loaded.state.run_config, state.run_config);
  EXPECT_EQ(names_in_checkpoints(), std::vector<std::string>{"step-000010"});
}

TEST_F(CheckpointTest, PruneKeepsTheLastNAndTheBest) {
  for (int64_t step : {10, 20, 30, 40, 50, 60}) write(step);
  const std::vector<fs::path> removed = prune_checkpoints(run_.path(), 2, 20);
  EXPECT_EQ(steps(), (std::vector<int64_t>{20, 50, 60}));
  ASSERT_EQ(removed.size(), 3u);
  EXPECT_EQ(removed[0].filename(), "step-000010");
  EXPECT_EQ(removed[2].filename(), "step-000040");
  EXPECT_EQ(names_in_checkpoints(), (std::vector<std::string>{"step-000020", "step-000050", "step-000060"}));
  // The best among the last N is not kept twice; without a best only the last N stay.
  prune_checkpoints(run_.path(), 1, 60);
  EXPECT_EQ(steps(), (std::vector<int64_t>{60}));
  prune_checkpoints(run_.path(), 3);
  EXPECT_EQ(steps(), (std::vector<int64_t>{60}));
  EXPECT_THROW(prune_checkpoints(run_.path(), 0), std::invalid_argument);
  testing::expect_checkpoint_of_step(read_checkpoint(*latest_checkpoint(run_.path()), backend_), model_, base_, 60);
}

// Another process in the middle of writing step 7, as write_checkpoint does it: it holds the lock
// <checkpoints>/step-000007.tmp-<its pid>.lock (flock) and has created the temporary directory beside it, and
// waits until released. Plain system calls only in the child of a threaded process.
class ForeignWriter {
 public:
  explicit ForeignWriter(const fs::path& checkpoints) {
    int ready[2];
    if (::pipe(ready) != 0 || ::pipe(release_) != 0) throw std::runtime_error("pipe failed");
    child_ = ::fork();
    if (child_ < 0) throw std::runtime_error("fork failed");
    if (child_ == 0) {
      ::close(ready[0]);
      ::close(release_[1]);  // so that the parent's close is the end of the pipe
      char directory[4096], lock[4200];
      std::snprintf(directory, sizeof directory, "%s/step-000007.tmp-%d", checkpoints.c_str(),
                    static_cast<int>(::getpid()));
      std::snprintf(lock, sizeof lock, "%s.lock", directory);
      const int fd = ::open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      const char byte = fd >= 0 && ::flock(fd, LOCK_EX) == 0 && ::mkdir(directory, 0755) == 0 ? 1 : 0;
      if (::write(ready[1], &byte, 1) != 1) ::_exit(1);
      char ignored;
      while (::read(release_[0], &ignored, 1) < 0 && errno == EINTR) {
      }
      ::_exit(0);  // without removing anything: as if killed
    }
    ::close(ready[1]);
    ::close(release_[0]);
    char byte = 0;
    const bool started = ::read(ready[0], &byte, 1) == 1 && byte == 1;
    ::close(ready[0]);
    if (!started) throw std::runtime_error("the child did not take the lock");
  }
  ~ForeignWriter() { stop(); }
  void stop() {
    if (child_ <= 0) return;
    ::close(release_[1]);
    int status = 0;
    ::waitpid(child_, &status, 0);
    child_ = 0;
  }
  std::string temporary() const { return "step-000007.tmp-" + std::to_string(child_); }

 private:
  pid_t child_ = -1;
  int release_[2] = {-1, -1};
};

TEST_F(CheckpointTest, LeftoverTemporariesAreRemovedWhateverTheirPid) {
  const pid_t dead_child = ::fork();
  if (dead_child == 0) ::_exit(0);
  int status = 0;
  ASSERT_EQ(::waitpid(dead_child, &status, 0), dead_child);
  const fs::path checkpoints = run_.path() / "checkpoints";
  // PID 1 is alive (in a container it is what every restart gets again), so is this process: neither proves
  // that a writer is at work.
  const std::string own = std::to_string(::getpid());
  for (const std::string& name : std::vector<std::string>{
           "step-000007.tmp-1", "step-000008.tmp-" + own, "step-000006.tmp-" + std::to_string(dead_child),
           "step-000005.tmp-1-pruned", "step-000004.tmp-1-replaced"})
    fs::create_directories(checkpoints / name / "sub");
  std::ofstream(checkpoints / "step-000003.tmp-1.lock");  // a lock file whose holder died
  write(9);
  EXPECT_EQ(names_in_checkpoints(), std::vector<std::string>{"step-000009"});

  fs::create_directories(checkpoints / "step-000010.tmp-1");
  prune_checkpoints(run_.path(), 3);
  EXPECT_EQ(names_in_checkpoints(), std::vector<std::string>{"step-000009"});
}

TEST_F(CheckpointTest, TemporaryWhoseLockALiveProcessHoldsIsKept) {
  const fs::path checkpoints = run_.path() / "checkpoints";
  fs::create_directories(checkpoints);
  ForeignWriter writer(checkpoints);
  const std::string busy = writer.temporary();
  ASSERT_TRUE(fs::is_directory(checkpoints / busy));

  write(9);
  prune_checkpoints(run_.path(), 1);
  EXPECT_EQ(names_in_checkpoints(), (std::vector<std::string>{busy, busy + ".lock", "step-000009"}));

  writer.stop();  // gone without cleaning up: its directory is now a leftover
  prune_checkpoints(run_.path(), 1);
  EXPECT_EQ(names_in_checkpoints(), std::vector<std::string>{"step-000009"});
}

// The files of a checkpoint directory with their bytes.
std::map<std::string, std::string> files_of(const fs::path& directory) {
  std::map<std::string, std::string> files;
  for (const auto& item : fs::directory_iterator(directory))
    files[item.path().filename()] = read_file(item.path());
  return files;
}

// Writes step 1, calls `break_the_disk`, writes step 2 into run_dir, and checks what a full disk must leave:
// step 1 byte for byte, no step 2 under any name, and an error that says what failed and where.
void expect_clean_failure_of_second_write(const fs::path& run_dir, MiniMindModel& model, const Tensor& base,
                                          Backend& backend, const std::function<void()>& break_the_disk,
                                          std::errc expected, const std::string& reason) {
  const fs::path first = write_checkpoint(run_dir, model, state_for_step(model, base, 1));
  const std::map<std::string, std::string> before = files_of(first);
  break_the_disk();
  try {
    write_checkpoint(run_dir, model, state_for_step(model, base, 2));
    ADD_FAILURE() << "the second checkpoint was written";
  } catch (const CheckpointWriteError& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.error, std::make_error_code(expected)) << message;
    EXPECT_NE(message.find("checkpoint of step 2 not written"), std::string::npos) << message;
    // The file (inside the temporary directory), the system's reason, the bytes asked and written.
    EXPECT_NE(message.find((run_dir / "checkpoints" / "step-000002.tmp-").string()), std::string::npos)
        << message;
    EXPECT_NE(message.find(".safetensors.tmp-"), std::string::npos) << message;
    EXPECT_NE(message.find(reason), std::string::npos) << message;
    EXPECT_NE(message.find("bytes at offset"), std::string::npos) << message;
    EXPECT_NE(message.find("stopped after"), std::string::npos) << message;
    EXPECT_NE(message.find("was removed"), std::string::npos) << message;
    EXPECT_NE(message.find("the previous checkpoint " + first.string() + " is intact"), std::string::npos)
        << message;
  }
  EXPECT_EQ(files_of(first), before);
  std::vector<std::string> names;
  for (const auto& item : fs::directory_iterator(run_dir / "checkpoints"))
    names.push_back(item.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"step-000001"});  // no step 2, no temporary, no lock
  testing::expect_checkpoint_of_step(read_checkpoint(first, backend), model, base, 1);
}

TEST_F(CheckpointTest, DiskFullKeepsThePreviousCheckpointAndSaysWhatFailed) {
  // About 1.8 MB of parameters: 5.5 MB per checkpoint with the moments.
  MiniMindModel model(testing::checkpoint_test_config(128, 500, 384), backend_);
  const Tensor base = testing::initial_parameters(model, 12);
  uint64_t checkpoint_bytes = 0;
  for (const auto& [name, bytes] :
       files_of(write_checkpoint(run_.path() / "measure", model, state_for_step(model, base, 1))))
    checkpoint_bytes += bytes.size();
  SmallTmpfs disk(run_.path() / "disk", checkpoint_bytes * 3 / 2);  // room for one and a half
  if (!disk.mounted()) GTEST_SKIP() << disk.failure();
  expect_clean_failure_of_second_write(
      disk.path() / "run", model, base, backend_, [] {}, std::errc::no_space_on_device,
      "No space left on device");
}

TEST_F(CheckpointTest, AWriteStoppedMidFileKeepsThePreviousCheckpoint) {
  // The kernel stops the moments file (twice the weights) partway: the same failure as a full disk, anywhere.
  MiniMindModel model(testing::checkpoint_test_config(128, 500, 384), backend_);
  const Tensor base = testing::initial_parameters(model, 13);
  const fs::path run_dir = run_.path() / "run";
  std::optional<FileSizeLimit> limit;  // set once step 1 is written; only reads happen after step 2 fails
  expect_clean_failure_of_second_write(
      run_dir, model, base, backend_,
      [&] {
        limit.emplace(fs::file_size(run_dir / "checkpoints" / "step-000001" / "model.safetensors") + 4096);
      },
      std::errc::file_too_large, "File too large");
}

TEST_F(CheckpointTest, ResumeReadsTheNewestCheckpointThatVerifies) {
  for (int64_t step : {10, 20, 30, 40}) write(step);
  const fs::path checkpoints = run_.path() / "checkpoints";
  flip_byte(checkpoints / "step-000040" / "model.safetensors", 1000);
  fs::resize_file(checkpoints / "step-000030" / "trainer_state.safetensors", 64);
  fs::create_directory(checkpoints / "step-000050");  // a final name without a marker

  const ResumableCheckpoint found = read_latest_intact_checkpoint(run_.path(), backend_);
  EXPECT_EQ(found.checkpoint.directory, checkpoints / "step-000020");
  testing::expect_checkpoint_of_step(found.checkpoint, model_, base_, 20);
  ASSERT_EQ(found.skipped.size(), 3u);
  EXPECT_EQ(found.skipped[0].directory, checkpoints / "step-000050");
  EXPECT_NE(found.skipped[0].problem.find("no COMPLETE marker"), std::string::npos)
      << found.skipped[0].problem;
  EXPECT_EQ(found.skipped[1].directory, checkpoints / "step-000040");
  EXPECT_NE(found.skipped[1].problem.find((checkpoints / "step-000040" / "model.safetensors").string() +
                                          " is corrupt"),
            std::string::npos)
      << found.skipped[1].problem;
  EXPECT_EQ(found.skipped[2].directory, checkpoints / "step-000030");
  EXPECT_NE(found.skipped[2].problem.find("trainer_state.safetensors"), std::string::npos)
      << found.skipped[2].problem;
  EXPECT_NE(found.skipped[2].problem.find("truncated"), std::string::npos) << found.skipped[2].problem;

  // Set aside, they leave the listing (and pruning) and stay for inspection.
  EXPECT_EQ(set_aside_damaged_checkpoint(checkpoints / "step-000040"), checkpoints / "step-000040.damaged");
  write(40);
  flip_byte(checkpoints / "step-000040" / "config.json", 3);
  EXPECT_EQ(set_aside_damaged_checkpoint(checkpoints / "step-000040"), checkpoints / "step-000040.damaged-2");
  EXPECT_EQ(steps(), (std::vector<int64_t>{10, 20, 30}));
  prune_checkpoints(run_.path(), 1);
  EXPECT_TRUE(fs::exists(checkpoints / "step-000040.damaged" / "model.safetensors"));
  EXPECT_TRUE(fs::exists(checkpoints / "step-000040.damaged-2" / "COMPLETE"));
}

TEST_F(CheckpointTest, ResumeWithNoIntactCheckpointListsEachProblemAndWhatToDo) {
  EXPECT_NE(checkpoint_error([&] {
              read_latest_intact_checkpoint(run_.path(), backend_);
            }).find("no complete checkpoint to resume from"),
            std::string::npos);
  write(10);
  write(20);
  flip_byte(run_.path() / "checkpoints" / "step-000010" / "trainer_state.json", 20);
  fs::remove(run_.path() / "checkpoints" / "step-000020" / "COMPLETE");
  const std::string message = checkpoint_error([&] { read_latest_intact_checkpoint(run_.path(), backend_); });
  EXPECT_NE(message.find("no checkpoint to resume from verifies"), std::string::npos) << message;
  EXPECT_NE(message.find("step-000020: checkpoint " + (run_.path() / "checkpoints" / "step-000020").string() +
                         " is incomplete"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("step-000010: checkpoint file " +
                         (run_.path() / "checkpoints" / "step-000010" / "trainer_state.json").string() +
                         " is corrupt"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("What you can do: restore the damaged files from a backup"), std::string::npos)
      << message;
  EXPECT_NE(message.find("--from"), std::string::npos) << message;
  EXPECT_EQ(steps(), std::vector<int64_t>{10});  // nothing moved
}

}  // namespace
}  // namespace minimind
