// The device and thread flags shared by the computing commands.
#include "cli/device_option.h"

#include <omp.h>

#include "backend/backend_factory.h"
#include "backend/cuda/cuda_device.h"

namespace minimind::cli {

Option device_option(const std::string& default_text) {
  return {"device", "NAME",
          "where to compute: cpu, cuda or cuda:N (default " + default_text +
              (cuda_backend_built() ? ")" : "; this build has no CUDA backend)")};
}

int threads_from(const Arguments& args) {
  const int64_t threads = args.integer("threads", 0);
  if (threads < 0 || threads > 4096)
    throw UsageError("--threads must be between 0 (all) and 4096, got " + std::to_string(threads));
  return static_cast<int>(threads);
}

int cpu_thread_count(const Arguments& args) {
  const int threads = threads_from(args);
  return threads > 0 ? threads : omp_get_max_threads();
}

std::unique_ptr<Backend> backend_from(const Arguments& args, const std::string& default_device) {
  DeviceSpec device;
  try {
    device = parse_device(args.text("device", default_device));
  } catch (const DeviceNameError& e) {
    throw UsageError(std::string("--") + e.what());
  }
  return make_backend(device, threads_from(args));
}

}  // namespace minimind::cli
