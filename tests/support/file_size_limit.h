// A file-size limit (RLIMIT_FSIZE, as `ulimit -f` sets) for the duration of a test: a write that would grow a
// file past it is cut short, and the next one fails with EFBIG, like a disk that fills up mid-record. SIGXFSZ
// is ignored meanwhile (the kernel would otherwise kill the process); both are restored afterwards.
#pragma once

#include <signal.h>
#include <sys/resource.h>

#include <cstdint>
#include <stdexcept>

namespace minimind {

class FileSizeLimit {
 public:
  explicit FileSizeLimit(uint64_t bytes, bool ignore_sigxfsz = true) : ignore_sigxfsz_(ignore_sigxfsz) {
    if (::getrlimit(RLIMIT_FSIZE, &saved_) != 0) throw std::runtime_error("getrlimit(RLIMIT_FSIZE) failed");
    if (ignore_sigxfsz_) saved_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit limited = saved_;
    limited.rlim_cur = static_cast<rlim_t>(bytes);
    if (::setrlimit(RLIMIT_FSIZE, &limited) != 0) throw std::runtime_error("setrlimit(RLIMIT_FSIZE) failed");
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);  // the soft limit goes back up to where it was, under the hard one
    if (ignore_sigxfsz_) ::signal(SIGXFSZ, saved_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  bool ignore_sigxfsz_;
  rlimit saved_{};
  sighandler_t saved_handler_ = SIG_DFL;
};

}  // namespace minimind
