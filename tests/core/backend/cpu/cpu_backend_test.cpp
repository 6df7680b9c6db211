// The CPU backend's thread count belongs to the instance: constructing a backend leaves the caller's OpenMP
// count alone, every op runs on its own backend's count (seen through omp_threads_observed), and the
// caller's count is back as it was after each op, an op that throws included. Used alternately from one
// thread and from two threads at once. Reference: the counts the backends were made with. Also what the CPU
// reports as its device (reference: /proc/cpuinfo's model name and the kernel's memory figures).
#include "backend/cpu/cpu_backend.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <fstream>
#include <latch>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/omp_threads_observed.h"

namespace minimind {
namespace {

TEST(CpuBackendThreads, ConstructingABackendLeavesTheCallersCountAlone) {
  const int before = omp_get_max_threads();
  const CpuBackend backend(before + 1);
  EXPECT_EQ(backend.threads(), before + 1);
  EXPECT_EQ(omp_get_max_threads(), before);
}

TEST(CpuBackendThreads, TheDefaultIsTheConstructingThreadsCount) {
  EXPECT_EQ(CpuBackend().threads(), omp_get_max_threads());
  EXPECT_EQ(CpuBackend(-1).threads(), omp_get_max_threads());
}

TEST(CpuBackendThreads, EachBackendComputesOnItsOwnCountUsedAlternately) {
  const int before = omp_get_max_threads();
  CpuBackend one(1), three(3);
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(omp_threads_observed(one), 1) << "round " << round;
    EXPECT_EQ(omp_get_max_threads(), before);
    EXPECT_EQ(omp_threads_observed(three), 3) << "round " << round;
    EXPECT_EQ(omp_get_max_threads(), before);
  }
}

TEST(CpuBackendThreads, TheCallersCountComesBackAfterAnOpThatThrows) {
  std::thread([] {
    omp_set_num_threads(4);  // the caller's own setting, on a thread of its own
    CpuBackend one(1);
    Tensor y = one.empty({2, 3}, DType::f32), x = one.empty({3, 2}, DType::f32);
    EXPECT_THROW(one.add(y, x), std::invalid_argument);
    EXPECT_EQ(omp_get_max_threads(), 4);
    EXPECT_EQ(omp_threads_observed(one), 1);
    EXPECT_EQ(omp_get_max_threads(), 4);
  }).join();
}

TEST(CpuBackendThreads, TwoThreadsAtOnceEachSeeTheCountOfTheBackendTheyUse) {
  CpuBackend one(1), three(3);
  constexpr int kRounds = 8;
  std::latch start(2);
  // Thread 0 begins with `one`, thread 1 with `three`, then each alternates: both backends are in use by
  // both threads while the other thread runs the other one.
  std::vector<std::vector<std::pair<int, int>>> seen(2);  // (expected, observed) per op
  auto work = [&](int index) {
    start.arrive_and_wait();
    for (int round = 0; round < kRounds; ++round) {
      CpuBackend& backend = (round + index) % 2 == 0 ? one : three;
      seen[index].emplace_back(backend.threads(), omp_threads_observed(backend));
    }
  };
  std::thread first(work, 0), second(work, 1);
  first.join();
  second.join();
  for (int index = 0; index < 2; ++index) {
    ASSERT_EQ(seen[index].size(), static_cast<size_t>(kRounds));
    for (const auto& [expected, observed] : seen[index]) EXPECT_EQ(observed, expected) << "thread " << index;
  }
}

TEST(CpuBackendDevice, ReportsTheHostsProcessorAndMemory) {
  CpuBackend backend(1);
  EXPECT_EQ(backend.device(), Device::cpu);
  const DeviceInfo info = backend.device_info();
  ASSERT_FALSE(info.name.empty());
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  bool has_model_name = false;
  while (!has_model_name && std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    has_model_name = true;
    EXPECT_NE(line.find(": " + info.name), std::string::npos) << line << " vs '" << info.name << "'";
  }
  if (!has_model_name) {
    EXPECT_EQ(info.name, "CPU");
  }
  EXPECT_GT(info.total_bytes, int64_t{1} << 20);
  EXPECT_GT(info.free_bytes, 0);
  EXPECT_LE(info.free_bytes, info.total_bytes);
}

TEST(CpuBackendDevice, ComputesInFloat32AndFloat64AndRunsSynchronously) {
  CpuBackend backend(1);
  EXPECT_TRUE(backend.supports_compute(DType::f32));
  EXPECT_TRUE(backend.supports_compute(DType::f64));
  EXPECT_FALSE(backend.supports_compute(DType::bf16));
  EXPECT_FALSE(backend.supports_compute(DType::f16));
  EXPECT_FALSE(backend.supports_compute(DType::i32));
  Tensor x = backend.empty({3}, DType::f32);
  backend.synchronize();
  const Tensor host = backend.to_host(x);
  EXPECT_TRUE(host.same_storage(x));  // the host copy of a host tensor is the tensor itself
  EXPECT_EQ(host.raw(), x.raw());
}

}  // namespace
}  // namespace minimind
