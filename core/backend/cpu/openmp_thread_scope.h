// Gives the calling thread a given OpenMP thread count for as long as the scope lives, then restores the
// count it had. Each CpuBackend op opens one, so a backend's thread count is its own: it neither leaks into
// the caller nor into another backend used from the same thread.
#pragma once

#include <omp.h>

namespace minimind::cpu {

class OpenMpThreadScope {
 public:
  // OpenMP's count is an internal control variable of the calling thread (nthreads-var), read by every
  // parallel region it opens and by Eigen's products through omp_get_max_threads.
  explicit OpenMpThreadScope(int threads) : previous_(omp_get_max_threads()) {
    if (threads != previous_) omp_set_num_threads(threads);
  }
  ~OpenMpThreadScope() {
    if (omp_get_max_threads() != previous_) omp_set_num_threads(previous_);
  }
  OpenMpThreadScope(const OpenMpThreadScope&) = delete;
  OpenMpThreadScope& operator=(const OpenMpThreadScope&) = delete;

 private:
  int previous_;
};

}  // namespace minimind::cpu
