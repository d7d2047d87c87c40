#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "backends/cuda/kernels/random_fill.h"

namespace junction::cuda {
namespace {

__device__ __forceinline__ uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

__device__ __forceinline__ void Store(__half* p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void Store(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

template <typename T>
__global__ void RandomFillKernel(T* out, int64_t count, uint64_t seed, float half_width) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < count; i += stride) {
    const uint64_t h = SplitMix64(seed ^ (static_cast<uint64_t>(i) * 0xD1B54A32D192ED03ull));
    const float u = static_cast<float>(h >> 40) * (1.0f / 16777216.0f);  // [0, 1)
    const float v = (2.0f * u - 1.0f) * half_width;
    Store(out + i, v);
  }
}

}  // namespace

void LaunchRandomFill(void* out, int64_t count, uint64_t seed, float stddev, DType dtype,
                      cudaStream_t stream) {
  if (count <= 0) return;
  const int threads = 256;
  const int64_t wanted = (count + threads - 1) / threads;
  const int blocks = static_cast<int>(wanted < 65536 ? wanted : 65536);
  const float half_width = stddev * 1.7320508f;  // uniform on [-a, a) has stddev a / sqrt(3)
  if (dtype == DType::kF16)
    RandomFillKernel<<<blocks, threads, 0, stream>>>(static_cast<__half*>(out), count, seed,
                                                     half_width);
  else
    RandomFillKernel<<<blocks, threads, 0, stream>>>(static_cast<__nv_bfloat16*>(out), count,
                                                     seed, half_width);
}

}  // namespace junction::cuda
