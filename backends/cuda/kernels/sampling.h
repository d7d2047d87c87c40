// Token sampling on the GPU, one CTA per logit row: greedy (argmax, lowest id on ties) or
// temperature -> top-k -> min-p -> top-p (the host Sampler's order), then one seeded uniform draw
// walked over the kept tokens in vocabulary order. Thresholds are found exactly by a radix
// search over the order-preserving integer keys of the logits (no sort); tokens tied with the
// last kept value are all kept.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace junction::cuda {

struct SampleRowParams {
  float temperature = 1.0f;  // 0 = greedy
  float top_p = 1.0f;
  float min_p = 0.0f;
  int top_k = 0;  // 0 or >= vocab = off
  uint64_t seed = 0;
  uint64_t offset = 0;  // draw index (e.g. the request's generated-token count)
};

struct SamplingArgs {
  const float* logits = nullptr;          // [num_rows, vocab] float32
  const SampleRowParams* rows = nullptr;  // [num_rows] (device)
  int32_t* out_ids = nullptr;             // [num_rows]
  int num_rows = 0;
  int vocab = 0;
};

void LaunchSampling(const SamplingArgs& args, cudaStream_t stream);

// The uniform draw in [0, 1) used for (seed, offset); identical on host and device.
__host__ __device__ inline double SamplingUniform(uint64_t seed, uint64_t offset) {
  auto mix = [](uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  return static_cast<double>(mix(seed ^ mix(offset)) >> 11) * 0x1.0p-53;
}

}  // namespace junction::cuda
