// The backend factory: the device names it accepts (cpu, cuda, cuda:N), the malformed ones it refuses naming
// the accepted forms, CUDA refused as unavailable in this build (not a crash), and the CPU backend it returns
// computing on the threads asked for. Reference: the forms documented in backend/backend_factory.h.
#include "backend/backend_factory.h"
#include "backend/cuda/cuda_device.h"

#include <gtest/gtest.h>

#include <string>

#include "backend/cpu/cpu_backend.h"
#include "support/omp_threads_observed.h"

namespace minimind {
namespace {

TEST(BackendFactory, ParsesTheAcceptedDeviceNames) {
  EXPECT_EQ(parse_device("cpu"), (DeviceSpec{Device::cpu, 0}));
  EXPECT_EQ(parse_device("cuda"), (DeviceSpec{Device::cuda, 0}));
  EXPECT_EQ(parse_device("cuda:0"), (DeviceSpec{Device::cuda, 0}));
  EXPECT_EQ(parse_device("cuda:3"), (DeviceSpec{Device::cuda, 3}));
  EXPECT_EQ(parse_device("cuda:3").name(), "cuda:3");
  EXPECT_EQ(parse_device("cpu").name(), "cpu");
}

TEST(BackendFactory, RefusesMalformedNamesNamingTheAcceptedForms) {
  for (const std::string name : {"cuda:x", "gpu", "cuda:-1", "cuda:+1", "cuda:", "cuda:1x",
                                 "cuda:99999999999", "", "CPU", "cpu:0", " cpu"}) {
    try {
      parse_device(name);
      ADD_FAILURE() << "'" << name << "' was accepted";
    } catch (const DeviceNameError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("'" + name + "'"), std::string::npos) << message;
      EXPECT_NE(message.find("cpu, cuda or cuda:N"), std::string::npos) << message;
    }
    EXPECT_THROW(make_backend(name), DeviceNameError) << name;
  }
}

// Where no GPU can be used (a build without CUDA, or a machine without a GPU), asking for one is refused
// with the device's name and the reason, as an error the CLI reports (exit status 1), never an abort.
TEST(BackendFactory, RefusesAGpuItCannotUseSayingWhy) {
  for (const std::string name : {"cuda", "cuda:1"}) {
    const int index = parse_device(name).index;
    const std::string why = cuda_unavailable_reason(index);
    if (why.empty()) continue;  // this GPU exists here: the GPU tests cover it
    try {
      make_backend(name, 2);
      ADD_FAILURE() << name << " gave a backend";
    } catch (const DeviceUnavailableError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(parse_device(name).name()), std::string::npos) << message;
      EXPECT_NE(message.find(why), std::string::npos) << message;
    }
  }
  if (!cuda_backend_built())
    EXPECT_NE(cuda_unavailable_reason(0).find("no CUDA backend"), std::string::npos);
  if (cuda_device_count() == 0) EXPECT_THROW(make_backend("cuda"), std::runtime_error);
}

// A GPU number past the machine's GPUs is refused naming how many there are.
TEST(BackendFactory, RefusesAGpuNumberPastTheLast) {
  const std::string why = cuda_unavailable_reason(999);
  EXPECT_FALSE(why.empty());
  if (cuda_device_count() > 0) EXPECT_NE(why.find(std::to_string(cuda_device_count())), std::string::npos) << why;
}

TEST(BackendFactory, TheCpuBackendComputesOnTheThreadsAsked) {
  for (int threads : {1, 3}) {
    const std::unique_ptr<Backend> backend = make_backend("cpu", threads);
    ASSERT_EQ(backend->device(), Device::cpu);
    const auto* cpu = dynamic_cast<const CpuBackend*>(backend.get());
    ASSERT_NE(cpu, nullptr);
    EXPECT_EQ(cpu->threads(), threads);
    EXPECT_EQ(omp_threads_observed(*backend), threads);
  }
}

}  // namespace
}  // namespace minimind
