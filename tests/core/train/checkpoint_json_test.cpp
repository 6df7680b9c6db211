// The JSON files of a checkpoint (the COMPLETE marker and trainer_state.json) are read with the strict
// parser: nesting past 64 levels and a key given twice are refused with an error naming the file. Reference:
// checkpoints written by write_checkpoint, then one file replaced by hand; for trainer_state.json the marker
// is rewritten with the new file's size and CRC-32C, so that only the parse can refuse it.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "backend/cpu/cpu_backend.h"
#include "core/train/checkpoint_test_support.h"
#include "io/crc32c.h"
#include "support/file_contents.h"
#include "support/scratch_directory.h"
#include "train/checkpoint.h"

namespace minimind {
namespace {

namespace fs = std::filesystem;

const std::string kDeep = std::string(100000, '[') + std::string(100000, ']');

class CheckpointJsonTest : public ::testing::Test {
 protected:
  fs::path write(int64_t step) {
    return write_checkpoint(run_.path(), model_, testing::state_for_step(model_, base_, step));
  }

  // Replaces `file` of the checkpoint and records its new size and CRC-32C in the marker.
  static void replace_listed_file(const fs::path& dir, const std::string& file, const std::string& text) {
    write_file(dir / file, text);
    nlohmann::json marker = nlohmann::json::parse(read_file(dir / "COMPLETE"));
    char crc[9];
    std::snprintf(crc, sizeof crc, "%08x", crc32c(text.data(), text.size()));
    for (nlohmann::json& entry : marker["files"]) {
      if (entry["name"] != file) continue;
      entry["bytes"] = text.size();
      entry["crc32c"] = crc;
    }
    write_file(dir / "COMPLETE", marker.dump(2) + "\n");
  }

  std::string read_error(const fs::path& dir) {
    try {
      read_checkpoint(dir, backend_);
    } catch (const CheckpointError& error) {
      return error.what();
    }
    ADD_FAILURE() << "read " << dir;
    return "";
  }

  ScratchDirectory run_;
  CpuBackend backend_{1};
  MiniMindModel model_{testing::checkpoint_test_config(), backend_};
  Tensor base_ = testing::initial_parameters(model_, 5);
};

TEST_F(CheckpointJsonTest, MarkerNestedTooDeepOrWithADuplicateKeyIsRefused) {
  const fs::path dir = write(10);
  const std::string marker = read_file(dir / "COMPLETE");
  const std::pair<std::string, std::string> cases[] = {
      {R"({"format": )" + kDeep + "}", "arrays or objects nested more than 64 levels deep"},
      // A second "files" list, empty: read with the last value kept, nothing would be checked.
      {marker.substr(0, marker.rfind('}')) + R"(, "files": []})",
       "the key \"files\" appears twice in one object"},
  };
  for (const auto& [text, problem] : cases) {
    write_file(dir / "COMPLETE", text);
    EXPECT_EQ(read_error(dir), "checkpoint file " + (dir / "COMPLETE").string() + ": " + problem);
  }
}

TEST_F(CheckpointJsonTest, TrainerStateNestedTooDeepOrWithADuplicateKeyIsRefused) {
  const fs::path dir = write(10);
  const std::string state = read_file(dir / "trainer_state.json");
  ASSERT_EQ(state.front(), '{');
  const std::pair<std::string, std::string> cases[] = {
      {R"({"loader": )" + kDeep + ", " + state.substr(1),
       "arrays or objects nested more than 64 levels deep"},
      {R"({"step": 999999, )" + state.substr(1), "the key \"step\" appears twice in one object"},
  };
  for (const auto& [text, problem] : cases) {
    replace_listed_file(dir, "trainer_state.json", text);
    EXPECT_NO_THROW(verify_checkpoint(dir));  // the marker matches: only the parse refuses
    EXPECT_EQ(read_error(dir), "checkpoint file " + (dir / "trainer_state.json").string() + ": " + problem);
  }
}

}  // namespace
}  // namespace minimind
