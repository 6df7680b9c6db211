// The CUDA backend's memory and copies: every floating dtype pair converted host-to-device, device-to-host
// and on the device, bit for bit as tensor/convert.h does on the host (the reference); uploads through the
// staging ring and past it; zero and to_host on views; device_info; out-of-memory, a GPU that is not there
// and CUDA errors, each reported with what a person needs (the bytes, the GPU count, the call and line).
// Without a GPU the tests that need one skip, saying why.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/cuda_check.h"
#include "cuda/gpu_test.h"
#include "tensor/convert.h"

namespace minimind {
namespace {

using testing::GpuTest;
using testing::same_bytes;

constexpr DType kFloatingDtypes[] = {DType::f32, DType::f64, DType::bf16, DType::f16};

// f64 values that reach every branch of the conversions: zeros, infinities, NaN, the ends of each format's
// range, exact ties of bf16 and f16 rounding and doubles just beside them (where rounding twice would go
// wrong), subnormals, then random values over a wide range of exponents.
Tensor conversion_probe_values() {
  std::vector<double> values = {0.0,
                                -0.0,
                                1.0,
                                -1.0,
                                std::numeric_limits<double>::infinity(),
                                -std::numeric_limits<double>::infinity(),
                                std::numeric_limits<double>::quiet_NaN(),
                                std::numeric_limits<float>::max(),
                                -std::numeric_limits<float>::max(),
                                std::numeric_limits<float>::min(),
                                std::numeric_limits<float>::denorm_min(),
                                1e39,
                                -1e39,
                                1e-50,
                                65504.0,
                                65519.99,
                                65520.0,
                                65536.0,
                                0x1p-14,
                                0x1p-24,
                                0x1p-25,
                                0x1.8p-25,
                                1e-9,
                                3.0e38};
  std::mt19937_64 rng(12345);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 64; ++i) {
    // A float whose dropped bf16 bits are exactly half (a tie), one below, one above; and the tie as a double
    // moved by far less than a float's last bit, which must round as the double, not as the tie.
    const uint32_t kept = (bits(rng) & 0x3FFF0000u) | 0x3F000000u;  // exponents around 1
    for (uint32_t low : {0x8000u, 0x7FFFu, 0x8001u, 0x0000u}) {
      const float value = std::bit_cast<float>(kept | low);
      values.push_back(value);
      values.push_back(-static_cast<double>(value));
    }
    const double tie = std::bit_cast<float>(kept | 0x8000u);
    values.push_back(tie * (1 + 0x1p-40));
    values.push_back(tie * (1 - 0x1p-40));
    // The same for f16: 13 dropped bits, the tie at 0x1000.
    const uint32_t kept_f16 = (bits(rng) & 0x007FE000u) | 0x3F800000u;
    const double tie_f16 = std::bit_cast<float>(kept_f16 | 0x1000u);
    values.push_back(tie_f16);
    values.push_back(tie_f16 * (1 + 0x1p-40));
    values.push_back(tie_f16 * (1 - 0x1p-40));
  }
  std::uniform_real_distribution<double> exponent(-30, 30), mantissa(1, 2);
  for (int i = 0; i < 2000; ++i)
    values.push_back((i % 2 ? -1 : 1) * mantissa(rng) * std::exp2(exponent(rng)));
  Tensor t = Tensor::empty({static_cast<int64_t>(values.size())}, DType::f64);
  std::copy(values.begin(), values.end(), t.data<double>());
  return t;
}

// The first element where `result` differs from `expected` in its bits (NaN matches any NaN), or -1.
int64_t first_difference(const Tensor& result, const Tensor& expected) {
  const Tensor result_f64 = convert_dtype(result, DType::f64),
               expected_f64 = convert_dtype(expected, DType::f64);
  const size_t size = dtype_size(expected.dtype());
  for (int64_t i = 0; i < expected.numel(); ++i) {
    if (std::isnan(result_f64.data<double>()[i]) && std::isnan(expected_f64.data<double>()[i])) continue;
    if (std::memcmp(static_cast<const char*>(result.raw()) + i * size,
                    static_cast<const char*>(expected.raw()) + i * size, size) != 0)
      return i;
  }
  return -1;
}

using CudaCopy = GpuTest;

TEST_F(CudaCopy, ConvertsEveryFloatingPairAsTheHostDoesOnEveryPath) {
  const Tensor values = conversion_probe_values();
  for (DType from : kFloatingDtypes) {
    const Tensor host_from = convert_dtype(values, from);
    const Tensor device_from = upload(host_from);
    for (DType to : kFloatingDtypes) {
      const Tensor expected = convert_dtype(host_from, to);
      const std::string pair = std::string(dtype_name(from)) + " -> " + std::string(dtype_name(to));

      Tensor device_to = gpu().empty(values.shape(), to);
      gpu().copy(device_from, device_to);
      int64_t at = first_difference(gpu().to_host(device_to), expected);
      EXPECT_EQ(at, -1) << pair << " on the device, first at element " << at << " ("
                        << values.data<double>()[std::max<int64_t>(at, 0)] << ")";

      Tensor uploaded = gpu().empty(values.shape(), to);
      gpu().copy(host_from, uploaded);
      at = first_difference(gpu().to_host(uploaded), expected);
      EXPECT_EQ(at, -1) << pair << " host to device, first at element " << at;

      Tensor downloaded = Tensor::empty(values.shape(), to);
      gpu().copy(device_from, downloaded);
      at = first_difference(downloaded, expected);
      EXPECT_EQ(at, -1) << pair << " device to host, first at element " << at;
    }
  }
}

TEST_F(CudaCopy, IntegerTensorsTravelUnchanged) {
  Tensor ids = Tensor::empty({1001}, DType::i32);
  for (int64_t i = 0; i < ids.numel(); ++i) ids.data<int32_t>()[i] = static_cast<int32_t>(i * 7919 - 500000);
  const Tensor device = upload(ids);
  Tensor copied = gpu().empty(ids.shape(), DType::i32);
  gpu().copy(device, copied);
  EXPECT_TRUE(same_bytes(gpu().to_host(copied), ids));
}

TEST_F(CudaCopy, LargeTensorsPastTheStagingBufferRoundTrip) {
  // 12 MB: more than the staging buffer, so the upload and the read back take the direct path.
  Tensor host = Tensor::empty({3'000'001}, DType::f32);
  for (int64_t i = 0; i < host.numel(); ++i) host.data<float>()[i] = static_cast<float>(i) * 0.25f - 1e5f;
  const Tensor device = upload(host);
  EXPECT_TRUE(same_bytes(gpu().to_host(device), host));
  Tensor narrow = gpu().empty(host.shape(), DType::bf16);
  gpu().copy(device, narrow);
  EXPECT_EQ(first_difference(gpu().to_host(narrow), convert_dtype(host, DType::bf16)), -1);
}

TEST_F(CudaCopy, TheCallerMayReuseItsBufferAsSoonAsAnUploadReturns) {
  // Many uploads from one host buffer, rewritten right after each copy returns, of sizes that wrap the
  // staging ring several times (and one that does not fit it): each device tensor keeps its own values.
  const std::vector<int64_t> sizes = {1, 3, 100'000, 1'000'000, 1'100'000, 7, 250'000, 999'999};
  Tensor host = Tensor::empty({1'100'000}, DType::f32);
  std::vector<Tensor> uploads;
  for (int round = 0; round < 6; ++round) {
    for (int64_t size : sizes) {
      const int index = static_cast<int>(uploads.size());
      for (int64_t i = 0; i < size; ++i)
        host.data<float>()[i] = static_cast<float>(index * 1'000'000 + i % 999'983);
      uploads.push_back(gpu().empty({size}, DType::f32));
      gpu().copy(host.flat(0, {size}), uploads.back());
    }
  }
  for (size_t index = 0; index < uploads.size(); ++index) {
    const Tensor back = gpu().to_host(uploads[index]);
    int64_t wrong = 0;
    for (int64_t i = 0; i < back.numel(); ++i)
      wrong +=
          back.data<float>()[i] != static_cast<float>(static_cast<int64_t>(index) * 1'000'000 + i % 999'983);
    EXPECT_EQ(wrong, 0) << "upload " << index << " of " << back.numel() << " elements";
  }
}

TEST_F(CudaCopy, ZeroAndToHostActOnViews) {
  Tensor host = Tensor::empty({6, 5}, DType::f32);
  for (int64_t i = 0; i < host.numel(); ++i) host.data<float>()[i] = static_cast<float>(i + 1);
  Tensor device = upload(host);

  const Tensor middle = gpu().to_host(device.rows(2, 5));
  ASSERT_EQ(middle.shape(), (Shape{3, 5}));
  for (int64_t i = 0; i < middle.numel(); ++i) EXPECT_EQ(middle.data<float>()[i], static_cast<float>(i + 11));

  Tensor rows = device.rows(1, 3);
  gpu().zero(rows);
  const Tensor after = gpu().to_host(device);
  for (int64_t i = 0; i < after.numel(); ++i)
    EXPECT_EQ(after.data<float>()[i], i >= 5 && i < 15 ? 0.0f : static_cast<float>(i + 1)) << i;

  Tensor empty = gpu().empty({0, 5}, DType::f32);
  gpu().zero(empty);
  EXPECT_EQ(gpu().to_host(empty).numel(), 0);
  gpu().synchronize();
}

TEST_F(CudaCopy, DeviceInfoNamesTheGpuAndItsMemory) {
  const DeviceInfo info = gpu().device_info();
  EXPECT_FALSE(info.name.empty());
  EXPECT_GT(info.total_bytes, int64_t{1} << 30);
  EXPECT_GT(info.free_bytes, 0);
  EXPECT_LE(info.free_bytes, info.total_bytes);
  EXPECT_TRUE(gpu().supports_compute(DType::f32));
  EXPECT_TRUE(gpu().supports_compute(DType::bf16));
  EXPECT_FALSE(gpu().supports_compute(DType::f64));
}

TEST_F(CudaCopy, AnAbsurdAllocationThrowsOutOfMemoryNamingTheBytesAndTheBackendGoesOn) {
  const int64_t elements = int64_t{1} << 48;  // 1 PiB of f32
  const int64_t bytes = elements * 4;
  try {
    gpu().empty({elements}, DType::f32);
    ADD_FAILURE() << "a 1 PiB allocation succeeded";
  } catch (const DeviceOutOfMemoryError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(std::to_string(bytes) + " bytes asked"), std::string::npos) << message;
    EXPECT_NE(message.find("bytes free"), std::string::npos) << message;
    EXPECT_EQ(error.requested_bytes(), bytes);
    EXPECT_GT(error.free_bytes(), 0);
  }
  // The failure left no error behind: the backend allocates, copies and reads back as before.
  Tensor host = Tensor::empty({17}, DType::f32);
  for (int64_t i = 0; i < host.numel(); ++i) host.data<float>()[i] = static_cast<float>(i) - 8.5f;
  EXPECT_TRUE(same_bytes(gpu().to_host(upload(host)), host));
}

TEST(CudaDevice, AGpuThatIsNotThereIsRefusedNamingHowManyThereAre) {
  try {
    make_backend("cuda:999");
    ADD_FAILURE() << "cuda:999 gave a backend";
  } catch (const DeviceUnavailableError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("cuda:999"), std::string::npos) << message;
    // Without a driver there is no count to name; the message says why instead.
    if (cuda_device_count() > 0) {
      EXPECT_NE(message.find("this machine has " + std::to_string(cuda_device_count())), std::string::npos)
          << message;
    }
  }
}

TEST(CudaErrors, NameTheCallTheFileAndTheLine) {
  int line = 0;
  try {
    line = __LINE__ + 1;
    CUDA_CHECK(cudaSetDevice(999));
    ADD_FAILURE() << "cudaSetDevice(999) succeeded";
  } catch (const CudaError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("cudaSetDevice(999)"), std::string::npos) << message;
    EXPECT_NE(message.find("cuda_backend_test.cpp:" + std::to_string(line)), std::string::npos) << message;
  }
  // The error was reported by the exception: it must not linger for the next launch check to find (without
  // a driver every call fails the same way, so there is nothing to clear).
  if (cuda_device_count() > 0) {
    EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  }
  try {
    line = __LINE__ + 1;
    CUBLAS_CHECK(CUBLAS_STATUS_INVALID_VALUE);
    ADD_FAILURE() << "a failed status passed";
  } catch (const CudaError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("CUBLAS_STATUS_INVALID_VALUE"), std::string::npos) << message;
    EXPECT_NE(message.find("cuda_backend_test.cpp:" + std::to_string(line)), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace minimind
