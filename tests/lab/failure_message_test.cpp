// How the lab words the failures that end a run: a GPU that ran out of memory gets its figures and the
// advice computed for the run (or the general advice without one), the host's allocation failures and a full
// disk keep their wording. Reference: the texts themselves and format_bytes.
#include "lab/failure_message.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <new>
#include <stdexcept>
#include <system_error>

#include "backend/device_out_of_memory.h"
#include "train/out_of_memory_error.h"

namespace minimind {
namespace {

// What the CUDA backend throws (cuda_check.h's DeviceOutOfMemoryError), without CUDA.
class FakeGpuOutOfMemory : public std::runtime_error, public DeviceOutOfMemory {
 public:
  FakeGpuOutOfMemory()
      : std::runtime_error("GPU 0 is out of memory: 2147483648 bytes asked for"),
        DeviceOutOfMemory(int64_t{2} << 30, int64_t{512} << 20) {}
};

TEST(FailureMessage, AGpuOutOfMemoryGetsItsFiguresAndTheAdvice) {
  const FakeGpuOutOfMemory error;
  const QString advised =
      failure_message(error, "The largest batch size that fits at sequence length 512 is 12.");
  EXPECT_EQ(advised,
            "The GPU ran out of memory: an allocation of 2.0 GiB found 512.0 MiB free.\n"
            "The largest batch size that fits at sequence length 512 is 12.\n"
            "(GPU 0 is out of memory: 2147483648 bytes asked for)");
  const QString general = failure_message(error);
  EXPECT_TRUE(general.contains("Lower the batch size or the sequence length")) << general.toStdString();
  EXPECT_TRUE(general.startsWith("The GPU ran out of memory")) << general.toStdString();
}

TEST(FailureMessage, TheHostsFailuresKeepTheirWords) {
  EXPECT_TRUE(failure_message(OutOfMemoryError("running the forward pass", 7))
                  .startsWith("Out of memory while running the forward pass at step 7: "));
  EXPECT_TRUE(failure_message(std::bad_alloc()).startsWith("Out of memory: "));
  EXPECT_TRUE(failure_message(std::system_error(ENOSPC, std::generic_category(), "writing checkpoint"))
                  .startsWith("The disk is full"));
  EXPECT_EQ(failure_message(std::runtime_error("data missing")), "data missing");
}

}  // namespace
}  // namespace minimind
