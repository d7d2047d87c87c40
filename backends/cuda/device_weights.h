// Uploading checkpoint tensors to device memory in the compute dtype.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backends/cuda/device_memory.h"
#include "engine/common/dtype.h"
#include "engine/model/weight_store.h"

namespace junction::cuda {

// Host float32 -> bf16 / fp16 bits (round to nearest even).
std::vector<uint16_t> ToHalfBits(const float* src, int64_t count, DType dtype);

// Tensors named `names` (each of shape [rows_i, cols]) stacked by rows into one device matrix
// of `dtype`. Errors name a missing or misshapen tensor.
absl::StatusOr<void*> UploadStacked(DeviceArena& arena, const WeightStore& weights,
                                    const std::vector<std::string>& names,
                                    const std::vector<int64_t>& rows, int64_t cols, DType dtype);

// One tensor of `shape`, kept as float32 on the device (norm weights, biases).
absl::StatusOr<float*> UploadF32(DeviceArena& arena, const WeightStore& weights,
                                 const std::string& name, const std::vector<int64_t>& shape);

}  // namespace junction::cuda
