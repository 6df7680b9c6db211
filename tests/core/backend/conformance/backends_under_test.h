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

namespace minimind::conformance {

struct BackendUnderTest {
  std::string name;     // in the test names, with the dtype: letters, digits and '_' only
  DType compute_dtype;  // the dtype its activations and parameters are computed in
  std::function<std::unique_ptr<Backend>()> make;
  // Why this backend cannot run here ("" when it can), e.g. no GPU: its cases skip, saying so.
  std::function<std::string()> why_unavailable = [] { return std::string(); };
};

inline std::vector<BackendUnderTest> backends_under_test() {
  return {
      {"cpu_2_threads", DType::f32, [] { return std::make_unique<CpuBackend>(2); }},
  };
}

inline void PrintTo(const BackendUnderTest& backend, std::ostream* out) {
  *out << backend.name << " in " << dtype_name(backend.compute_dtype);
}

}  // namespace minimind::conformance
