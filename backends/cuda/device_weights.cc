#include "backends/cuda/device_weights.h"

#include <cmath>
#include <functional>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/random_fill.h"
#include "backends/cuda/random_weights.h"
#include "engine/common/status_macros.h"

namespace junction::cuda {
namespace {

// A random source's matrix: generated on the device, one seed per (run seed, first name).
absl::StatusOr<void*> GenerateStacked(DeviceArena& arena, uint64_t seed,
                                      const std::vector<std::string>& names,
                                      const std::vector<int64_t>& rows, int64_t cols,
                                      DType dtype) {
  int64_t total_rows = 0;
  for (int64_t r : rows) total_rows += r;
  const int64_t count = total_rows * cols;
  ASSIGN_OR_RETURN(void* out, arena.Allocate(count * DTypeSize(dtype)));
  const uint64_t tensor_seed = seed * 0x9E3779B97F4A7C15ull ^ std::hash<std::string>{}(names[0]);
  LaunchRandomFill(out, count, tensor_seed, 1.0f / std::sqrt(static_cast<float>(cols)), dtype,
                   nullptr);
  RETURN_IF_CUDA_ERROR(cudaGetLastError());
  RETURN_IF_CUDA_ERROR(cudaDeviceSynchronize());  // the backend's stream does not wait for it
  return out;
}

}  // namespace

std::vector<uint16_t> ToHalfBits(const float* src, int64_t count, DType dtype) {
  std::vector<uint16_t> out(count);
  for (int64_t i = 0; i < count; ++i)
    out[i] = dtype == DType::kF16 ? FloatToF16(src[i]) : FloatToBF16(src[i]);
  return out;
}

absl::StatusOr<void*> UploadStacked(DeviceArena& arena, const WeightStore& weights,
                                    const std::vector<std::string>& names,
                                    const std::vector<int64_t>& rows, int64_t cols, DType dtype) {
  if (std::optional<uint64_t> seed = RandomWeightSeed(weights))
    return GenerateStacked(arena, *seed, names, rows, cols, dtype);
  std::vector<uint16_t> host;
  for (size_t i = 0; i < names.size(); ++i) {
    ASSIGN_OR_RETURN(const float* data, weights.GetF32(names[i], {rows[i], cols}));
    std::vector<uint16_t> bits = ToHalfBits(data, rows[i] * cols, dtype);
    host.insert(host.end(), bits.begin(), bits.end());
  }
  return arena.Upload(host.data(), host.size() * sizeof(uint16_t));
}

absl::StatusOr<float*> UploadF32(DeviceArena& arena, const WeightStore& weights,
                                 const std::string& name, const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  if (RandomWeightSeed(weights).has_value()) {
    // Norm weights 1 (their "plus one" variants then scale by 2: harmless), biases 0.
    const bool is_norm = name.find("norm") != std::string::npos;
    std::vector<float> values(count, is_norm ? 1.0f : 0.0f);
    ASSIGN_OR_RETURN(void* out, arena.Upload(values.data(), count * sizeof(float)));
    return static_cast<float*>(out);
  }
  ASSIGN_OR_RETURN(const float* data, weights.GetF32(name, shape));
  ASSIGN_OR_RETURN(void* out, arena.Upload(data, count * sizeof(float)));
  return static_cast<float*>(out);
}

}  // namespace junction::cuda
