// --device and --threads of the commands that compute: the backend they name, made by the one factory
// (backend/backend_factory.h), so that every command accepts and refuses devices alike.
#pragma once

#include <memory>
#include <string>

#include "backend/backend.h"
#include "cli/arguments.h"

namespace minimind::cli {

// --device NAME; `default_text` says what the command uses without it.
Option device_option(const std::string& default_text = "cpu");
// --threads N, checked: 0 (every core) to 4096.
int threads_from(const Arguments& args);
// The OpenMP threads a CPU backend made from these flags computes on (--threads, else every core).
int cpu_thread_count(const Arguments& args);

// The backend of --device (else `default_device`) with --threads. A malformed name is a UsageError naming the
// accepted forms; a device this build cannot use throws DeviceUnavailableError (exit status 1).
std::unique_ptr<Backend> backend_from(const Arguments& args, const std::string& default_device = "cpu");

}  // namespace minimind::cli
