#include "backends/cuda/device_weights.h"

#include "engine/common/status_macros.h"

namespace junction::cuda {

std::vector<uint16_t> ToHalfBits(const float* src, int64_t count, DType dtype) {
  std::vector<uint16_t> out(count);
  for (int64_t i = 0; i < count; ++i)
    out[i] = dtype == DType::kF16 ? FloatToF16(src[i]) : FloatToBF16(src[i]);
  return out;
}

absl::StatusOr<void*> UploadStacked(DeviceArena& arena, const WeightStore& weights,
                                    const std::vector<std::string>& names,
                                    const std::vector<int64_t>& rows, int64_t cols, DType dtype) {
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
  ASSIGN_OR_RETURN(const float* data, weights.GetF32(name, shape));
  ASSIGN_OR_RETURN(void* out, arena.Upload(data, count * sizeof(float)));
  return static_cast<float*>(out);
}

}  // namespace junction::cuda
