// The backends the conformance suite runs on, each with its compute dtype. Every op case of the suite is
// instantiated once per entry here, so a new backend (the CUDA one) joins the whole suite with one line.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_backend.h"
#if defined(MINIMIND_CONFORMANCE_ON_CUDA)
#include "backend/backend_factory.h"
#include "backend/cuda/cuda_device.h"
#endif

namespace minimind::conformance {

struct BackendUnderTest {
  std::string name;     // in the test names, with the dtype: letters, digits and '_' only
  DType compute_dtype;  // the dtype its activations and parameters are computed in
  std::function<std::unique_ptr<Backend>()> make;
  // Why this backend cannot run here ("" when it can), e.g. no GPU: its cases skip, saying so.
  std::function<std::string()> why_unavailable = [] { return std::string(); };
};

// The CPU binary (core_tests) runs the suite on the CPU; the GPU binary (cuda_tests, tests/cuda) compiles it
// again with MINIMIND_CONFORMANCE_ON_CUDA and runs it on GPU 0 in f32 and in bf16.
inline std::vector<BackendUnderTest> backends_under_test() {
#if defined(MINIMIND_CONFORMANCE_ON_CUDA)
  const auto make = [] { return make_backend("cuda"); };
  const auto why_unavailable = [] { return cuda_unavailable_reason(0); };
  return {
      {"cuda_f32", DType::f32, make, why_unavailable},
      {"cuda_bf16", DType::bf16, make, why_unavailable},
  };
#else
  return {
      {"cpu_2_threads", DType::f32, [] { return std::make_unique<CpuBackend>(2); }},
  };
#endif
}

inline void PrintTo(const BackendUnderTest& backend, std::ostream* out) {
  *out << backend.name << " in " << dtype_name(backend.compute_dtype);
}

}  // namespace minimind::conformance
