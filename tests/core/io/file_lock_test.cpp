// FileLock. Reference: flock(2)'s semantics: a lock held through one open file is refused to every other open
// of it, in this process or another, and the kernel drops it when its holder dies (here: SIGKILL).
#include "io/file_lock.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/scratch_directory.h"

namespace minimind {
namespace {

namespace fs = std::filesystem;

TEST(FileLock, HeldLockIsRefusedToOthersAndItsFileGoesWithIt) {
  ScratchDirectory directory;
  const fs::path path = directory / "writer.lock";
  {
    FileLock held = FileLock::acquire(path);
    EXPECT_EQ(held.path(), path);
    EXPECT_TRUE(fs::exists(path));
    EXPECT_FALSE(FileLock::try_acquire(path).has_value());  // another open of it, even in this process
    const FileLock moved = std::move(held);                 // the lock travels; the moved-from one is empty
    EXPECT_FALSE(FileLock::try_acquire(path).has_value());
  }
  EXPECT_FALSE(fs::exists(path));
  std::optional<FileLock> again = FileLock::try_acquire(path);
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(fs::exists(path));
  again.reset();
  EXPECT_TRUE(directory.file_names().empty());
}

TEST(FileLock, TheLockOfAKilledHolderCanBeTaken) {
  ScratchDirectory directory;
  const fs::path path = directory / "writer.lock";
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Plain system calls only: the child of a threaded process.
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) ::_exit(1);
    const char byte = 1;
    if (::write(ready[1], &byte, 1) != 1) ::_exit(1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  EXPECT_FALSE(FileLock::try_acquire(path).has_value());  // its holder is alive

  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  std::optional<FileLock> taken = FileLock::try_acquire(path);  // the file is still there; the lock is not
  EXPECT_TRUE(taken.has_value());
}

}  // namespace
}  // namespace minimind
