// Random weights generated on the device (benchmarks of models with no checkpoint).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/common/dtype.h"

namespace junction::cuda {

// out[i] = a value uniform on [-sqrt(3)*stddev, sqrt(3)*stddev) (standard deviation `stddev`),
// a pure function of (seed, i): the same seed gives the same tensor. `dtype`: kBF16 or kF16.
void LaunchRandomFill(void* out, int64_t count, uint64_t seed, float stddev, DType dtype,
                      cudaStream_t stream);

}  // namespace junction::cuda
