// Shared helpers of the [gpu] tests: skipping without a device, random data, host <-> device
// copies of 16-bit tensors, and the relative L2 error against float64 references.
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "backends/cuda/cuda_backends.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device_memory.h"
#include "backends/cuda/device_weights.h"
#include "engine/common/dtype.h"

namespace junction::cuda::testing {

// True when a CUDA device is present; otherwise WARNs so the test passes as skipped.
inline bool HaveGpu() {
  static const bool have = QueryCudaDevice().ok();
  if (!have) WARN("no CUDA device: [gpu] test skipped");
  return have;
}

inline std::vector<float> RandomVector(std::mt19937& rng, size_t n, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Values rounded through the 16-bit type (what the device will see).
inline std::vector<float> RoundToHalf(const std::vector<float>& v, DType dtype) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out[i] = dtype == DType::kF16 ? F16ToFloat(FloatToF16(v[i])) : BF16ToFloat(FloatToBF16(v[i]));
  return out;
}

inline DeviceBuffer UploadHalf(const std::vector<float>& v, DType dtype) {
  auto buffer = DeviceBuffer::Allocate(v.size() * 2 + 16);
  REQUIRE(buffer.ok());
  const std::vector<uint16_t> bits = ToHalfBits(v.data(), static_cast<int64_t>(v.size()), dtype);
  REQUIRE(cudaMemcpy(buffer->data(), bits.data(), bits.size() * 2, cudaMemcpyHostToDevice) ==
          cudaSuccess);
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);  // pageable uploads may still be in flight
  return std::move(*buffer);
}

template <typename T>
DeviceBuffer UploadRaw(const std::vector<T>& v) {
  auto buffer = DeviceBuffer::Allocate(v.size() * sizeof(T) + 16);
  REQUIRE(buffer.ok());
  REQUIRE(cudaMemcpy(buffer->data(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice) ==
          cudaSuccess);
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);  // pageable uploads may still be in flight
  return std::move(*buffer);
}

// A device buffer of `n` 16-bit elements filled with NaN (poison).
inline DeviceBuffer PoisonedHalf(size_t n) {
  auto buffer = DeviceBuffer::Allocate(n * 2 + 16);
  REQUIRE(buffer.ok());
  REQUIRE(cudaMemset(buffer->data(), 0xff, n * 2 + 16) == cudaSuccess);  // 0xffff is NaN
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  return std::move(*buffer);
}

inline std::vector<float> DownloadHalf(const DeviceBuffer& buffer, size_t n, DType dtype) {
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  std::vector<uint16_t> bits(n);
  REQUIRE(cudaMemcpy(bits.data(), buffer.data(), n * 2, cudaMemcpyDeviceToHost) == cudaSuccess);
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i)
    out[i] = dtype == DType::kF16 ? F16ToFloat(bits[i]) : BF16ToFloat(bits[i]);
  return out;
}

template <typename T>
std::vector<T> DownloadRaw(const DeviceBuffer& buffer, size_t n) {
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  std::vector<T> out(n);
  REQUIRE(cudaMemcpy(out.data(), buffer.data(), n * sizeof(T), cudaMemcpyDeviceToHost) ==
          cudaSuccess);
  return out;
}

struct ErrorStats {
  double relative_l2 = 0;
  double max_abs = 0;
  bool has_nan = false;
};

inline ErrorStats Compare(const std::vector<float>& out, const std::vector<double>& ref) {
  ErrorStats s;
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(out[i])) s.has_nan = true;
    const double diff = out[i] - ref[i];
    num += diff * diff;
    den += ref[i] * ref[i];
    s.max_abs = std::max(s.max_abs, std::abs(diff));
  }
  s.relative_l2 = std::sqrt(num / std::max(den, 1e-300));
  return s;
}

}  // namespace junction::cuda::testing
