// Checkpoints on disk. Reference: the values written (a state determined by its step), compared bit for bit
// after reading back; damaged checkpoints built by hand (a flipped byte, a truncated file, no marker) must be
// refused with an error naming the file; listing, latest and pruning against the expected step sets.
#include "train/checkpoint.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "backend/cpu/cpu_backend.h"
#include "support/scratch_directory.h"
#include "core/train/checkpoint_test_support.h"

namespace minimind {
namespace {

namespace fs = std::filesystem;
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

void flip_byte(const fs::path& path, uint64_t at) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(static_cast<std::streamoff>(at));
  char byte = 0;
  file.read(&byte, 1);
  byte = static_cast<char>(byte ^ 0x10);
  file.seekp(static_cast<std::streamoff>(at));
  file.write(&byte, 1);
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
  MiniMindModel model(testing::checkpoint_test_config(), backend_, DType::f64);
  const Tensor base = testing::initial_parameters(model, 6);
  const fs::path dir = write_checkpoint(run_.path(), model, state_for_step(model, base, 7));
  const LoadedCheckpoint loaded = read_checkpoint(dir, backend_, DType::f64);
  EXPECT_EQ(loaded.model->dtype(), DType::f64);
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

TEST_F(CheckpointTest, TemporariesOfDeadProcessesAreRemoved) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);  // its pid now names no process
  const fs::path checkpoints = run_.path() / "checkpoints";
  const fs::path dead = checkpoints / ("step-000007.tmp-" + std::to_string(child));
  const fs::path alive = checkpoints / ("step-000008.tmp-" + std::to_string(::getppid()));
  fs::create_directories(dead / "sub");
  fs::create_directories(alive);
  write(9);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(alive));  // a process that still runs may be writing it
  EXPECT_EQ(steps(), std::vector<int64_t>{9});
}

}  // namespace
}  // namespace minimind
