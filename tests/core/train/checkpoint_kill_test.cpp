// A process killed (SIGKILL, no chance to clean up) while writing checkpoints never leaves a damaged one.
// Reference: every checkpoint holds the state determined by its step (parameters and moments scaled by a
// factor of the step), so any directory under a final name must read back complete and bit-identical to
// what was written for its step; the newest is loadable and never goes back in steps. A child process writes
// (and prunes) checkpoints in a loop and is killed after a random, seeded delay spread over a few write
// durations, so kills land before, during and between writes; the test checks that some landed mid-write.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "backend/cpu/cpu_backend.h"
#include "support/scratch_directory.h"
#include "core/train/checkpoint_test_support.h"
#include "train/checkpoint.h"

namespace minimind {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kKills = 24;
constexpr int64_t kStepsPerChild = 1000;
constexpr int64_t kBestStep = 1;  // the first checkpoint of the first child, kept by every prune

// Writes checkpoints of steps first_step, first_step + 1, ... until killed; never returns.
[[noreturn]] void write_until_killed(const fs::path& run_dir, MiniMindModel& model, const Tensor& base,
                                     int64_t first_step) {
  try {
    // The forked child has only this thread; one OpenMP thread keeps any parallel loop from waiting on the
    // parent's thread team, which does not exist here.
    CpuBackend serial(1);
    for (int64_t step = first_step;; ++step) {
      write_checkpoint(run_dir, model, testing::state_for_step(model, base, step));
      prune_checkpoints(run_dir, 2, kBestStep);
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "checkpoint writer failed: %s\n", error.what());
  }
  ::_exit(3);
}

// Reads and checks every directory under a final name; returns the steps found.
std::vector<int64_t> check_every_final_directory(const fs::path& run_dir, MiniMindModel& scratch, const Tensor& base,
                                                 Backend& backend) {
  std::vector<int64_t> steps;
  for (const auto& item : fs::directory_iterator(run_dir / "checkpoints")) {
    const std::optional<int64_t> step = checkpoint_step(item.path());
    if (!step) continue;
    steps.push_back(*step);
    try {
      testing::expect_checkpoint_of_step(read_checkpoint(item.path(), backend), scratch, base, *step);
    } catch (const std::exception& error) {
      ADD_FAILURE() << "damaged checkpoint under a final name: " << error.what();
    }
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

TEST(CheckpointKillTest, KilledWriterAlwaysLeavesLoadableCheckpoints) {
  ScratchDirectory run;
  CpuBackend backend(1);
  // About 3.4 MB of parameters (10 MB per checkpoint with the moments), so one write takes milliseconds;
  // every tensor stays under the size at which conversions go parallel.
  MiniMindModel model(testing::checkpoint_test_config(128, 500, 384), backend);
  const Tensor base = testing::initial_parameters(model, 11);

  // How long one write takes here sets the range of kill delays.
  const fs::path calibration_run = run.path() / "calibration";
  const auto calibration_start = Clock::now();
  write_checkpoint(calibration_run, model, testing::state_for_step(model, base, 0));
  const auto write_duration = Clock::now() - calibration_start;
  fs::remove_all(calibration_run);
  const fs::path run_dir = run.path() / "run";
  const auto write_us = std::chrono::duration_cast<std::chrono::microseconds>(write_duration).count();

  std::mt19937_64 rng(20240607);
  std::uniform_int_distribution<int64_t> delay_us(0, write_us * 5 / 2);
  int mid_write_kills = 0;
  size_t previous_count = 0;
  int64_t newest_seen = -1;
  bool best_seen = false;
  for (int kill = 0; kill < kKills; ++kill) {
    const int64_t first_step = kBestStep + kill * kStepsPerChild;
    const pid_t child = ::fork();
    ASSERT_GE(child, 0) << "fork failed";
    if (child == 0) write_until_killed(run_dir, model, base, first_step);
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the writer ended on its own (status " << status << ") before kill " << kill;

    if (!fs::exists(run_dir / "checkpoints")) continue;  // killed before it created anything
    for (const auto& item : fs::directory_iterator(run_dir / "checkpoints"))
      if (const std::string name = item.path().filename();
          name.find(".tmp-" + std::to_string(child)) != std::string::npos && !name.ends_with("-pruned")) {
        ++mid_write_kills;
        break;
      }
    const std::vector<int64_t> steps = check_every_final_directory(run_dir, model, base, backend);
    const std::optional<fs::path> latest = latest_checkpoint(run_dir);
    if (newest_seen >= 0) {
      ASSERT_TRUE(latest.has_value()) << "every checkpoint vanished after kill " << kill;
    }
    if (!latest) continue;
    const int64_t latest_step = *checkpoint_step(*latest);
    EXPECT_EQ(latest_step, steps.back());
    EXPECT_GE(latest_step, newest_seen) << "the newest checkpoint went back after kill " << kill;
    newest_seen = latest_step;
    best_seen = best_seen || std::find(steps.begin(), steps.end(), kBestStep) != steps.end();
    if (best_seen) {
      EXPECT_TRUE(std::find(steps.begin(), steps.end(), kBestStep) != steps.end()) << "the best was pruned";
    }
    // A child adds at most one checkpoint that its pruning has not yet seen (a kill between the rename and the
    // prune); consecutive such kills add one each, and the next completed prune takes them away again.
    EXPECT_LE(steps.size(), std::max<size_t>(previous_count, 3) + 1) << "pruning kept too many";
    previous_count = steps.size();
    ASSERT_FALSE(::testing::Test::HasFailure()) << "after kill " << kill;
  }
  EXPECT_GE(newest_seen, 0) << "no checkpoint was ever completed; one write takes " << write_us << " us";
  // Whatever the kills left, one prune brings the run back to the last 2 and the best.
  if (fs::exists(run_dir / "checkpoints")) {
    prune_checkpoints(run_dir, 2, kBestStep);
    const std::vector<int64_t> kept = check_every_final_directory(run_dir, model, base, backend);
    EXPECT_LE(kept.size(), 3u);
    if (best_seen) {
      EXPECT_TRUE(std::find(kept.begin(), kept.end(), kBestStep) != kept.end());
    }
  }
  EXPECT_GT(mid_write_kills, 0) << "no kill landed in the middle of a write";
  std::printf("[          ] %d kills, %d mid-write, one write %lld us, newest step %lld\n", kKills, mid_write_kills,
              static_cast<long long>(write_us), static_cast<long long>(newest_seen));
}

}  // namespace
}  // namespace minimind
