// The fixture of the GPU tests: a CUDA backend on GPU 0, or the test skips saying why there is none.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "backend/backend.h"
#include "backend/backend_factory.h"
#include "backend/cuda/cuda_device.h"
#include "tensor/tensor.h"

namespace minimind::testing {

class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why_not = cuda_unavailable_reason(0);
    if (!why_not.empty()) GTEST_SKIP() << "no GPU to test on: " << why_not;
    backend_ = make_backend("cuda");
  }

  Backend& gpu() { return *backend_; }

  // A device copy of the host tensor `host`, in its dtype.
  Tensor upload(const Tensor& host) {
    Tensor device = gpu().empty(host.shape(), host.dtype());
    gpu().copy(host, device);
    return device;
  }

 private:
  std::unique_ptr<Backend> backend_;
};

// Whether two host tensors hold the same bytes.
inline bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.bytes() == b.bytes() && (a.bytes() == 0 || std::memcmp(a.raw(), b.raw(), a.bytes()) == 0);
}

}  // namespace minimind::testing
