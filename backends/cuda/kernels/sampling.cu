#include <cfloat>

#include "backends/cuda/kernels/cuda_types.cuh"
#include "backends/cuda/kernels/sampling.h"

namespace junction::cuda {
namespace {

constexpr int kThreads = 1024;

__device__ __forceinline__ uint32_t OrderKey(float v) {
  const uint32_t bits = __float_as_uint(v);
  return bits ^ ((bits >> 31) ? 0xffffffffu : 0x80000000u);
}

// Argmax over the row; ties resolve to the lowest index.
__device__ int BlockArgmax(const float* row, int vocab, float* sv, int* si) {
  float best = -INFINITY;
  int best_i = vocab;
  for (int i = threadIdx.x; i < vocab; i += kThreads)
    if (row[i] > best || (row[i] == best && i < best_i)) best = row[i], best_i = i;
  for (int o = 16; o > 0; o >>= 1) {
    const float v = __shfl_xor_sync(0xffffffffu, best, o);
    const int j = __shfl_xor_sync(0xffffffffu, best_i, o);
    if (v > best || (v == best && j < best_i)) best = v, best_i = j;
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) sv[warp] = best, si[warp] = best_i;
  __syncthreads();
  best = sv[lane];
  best_i = si[lane];
  for (int o = 16; o > 0; o >>= 1) {
    const float v = __shfl_xor_sync(0xffffffffu, best, o);
    const int j = __shfl_xor_sync(0xffffffffu, best_i, o);
    if (v > best || (v == best && j < best_i)) best = v, best_i = j;
  }
  return best_i < vocab ? best_i : 0;
}

__global__ void __launch_bounds__(kThreads) SamplingKernel(SamplingArgs args) {
  __shared__ float scratch[32];
  __shared__ int scratch_i[32];
  __shared__ float prefix[kThreads];
  const int r = blockIdx.x;
  const int vocab = args.vocab;
  const float* row = args.logits + static_cast<int64_t>(r) * vocab;
  const SampleRowParams sp = args.rows[r];
  if (sp.temperature <= 0.0f) {
    const int id = BlockArgmax(row, vocab, scratch, scratch_i);
    if (threadIdx.x == 0) args.out_ids[r] = id;
    return;
  }
  const float inv_t = 1.0f / sp.temperature;
  const int best = BlockArgmax(row, vocab, scratch, scratch_i);
  const float max_z = row[best] * inv_t;
  auto z_of = [&](int i) { return row[i] * inv_t; };

  // Lower bound on kept keys: top-k (k-th largest key), then min-p (relative to the max).
  uint32_t floor_key = 0;
  if (sp.top_k > 0 && sp.top_k < vocab) {
    uint32_t prefix_key = 0;
    for (int bit = 31; bit >= 0; --bit) {
      const uint32_t candidate = prefix_key | (1u << bit);
      float count = 0.0f;
      for (int i = threadIdx.x; i < vocab; i += kThreads) count += OrderKey(z_of(i)) >= candidate;
      if (BlockSum(count, scratch) >= static_cast<float>(sp.top_k)) prefix_key = candidate;
    }
    floor_key = prefix_key;
  }
  if (sp.min_p > 0.0f) floor_key = max(floor_key, OrderKey(max_z + logf(sp.min_p)));
  auto mass_above = [&](uint32_t key) {
    float mass = 0.0f;
    for (int i = threadIdx.x; i < vocab; i += kThreads) {
      const float z = z_of(i);
      if (OrderKey(z) >= key) mass += __expf(z - max_z);
    }
    return BlockSum(mass, scratch);
  };
  if (sp.top_p < 1.0f) {
    const float needed = sp.top_p * mass_above(floor_key);
    uint32_t prefix_key = 0;
    for (int bit = 31; bit >= 0; --bit) {
      const uint32_t candidate = prefix_key | (1u << bit);
      if (mass_above(max(candidate, floor_key)) >= needed) prefix_key = candidate;
    }
    floor_key = max(floor_key, prefix_key);
  }

  // Walk the kept mass in vocabulary order: each thread owns one contiguous range.
  const int per_thread = (vocab + kThreads - 1) / kThreads;
  const int begin = min(vocab, static_cast<int>(threadIdx.x) * per_thread);
  const int end = min(vocab, begin + per_thread);
  float mine = 0.0f;
  for (int i = begin; i < end; ++i) {
    const float z = z_of(i);
    if (OrderKey(z) >= floor_key) mine += __expf(z - max_z);
  }
  prefix[threadIdx.x] = mine;
  __syncthreads();
  for (int stride = 1; stride < kThreads; stride <<= 1) {  // inclusive scan
    const float add = threadIdx.x >= stride ? prefix[threadIdx.x - stride] : 0.0f;
    __syncthreads();
    prefix[threadIdx.x] += add;
    __syncthreads();
  }
  const float total = prefix[kThreads - 1];
  const float target = static_cast<float>(SamplingUniform(sp.seed, sp.offset)) * total;
  const float before = threadIdx.x > 0 ? prefix[threadIdx.x - 1] : 0.0f;
  __shared__ int chosen;
  if (threadIdx.x == 0) chosen = best;  // fallback when rounding leaves target unreached
  __syncthreads();
  if (target >= before && target < prefix[threadIdx.x]) {
    float acc = before;
    int pick = -1, last = -1;
    for (int i = begin; i < end; ++i) {
      const float z = z_of(i);
      if (OrderKey(z) < floor_key) continue;
      last = i;
      acc += __expf(z - max_z);
      if (target < acc) {
        pick = i;
        break;
      }
    }
    chosen = pick >= 0 ? pick : last;
  }
  __syncthreads();
  if (threadIdx.x == 0) args.out_ids[r] = chosen;
}

}  // namespace

void LaunchSampling(const SamplingArgs& args, cudaStream_t stream) {
  if (args.num_rows == 0) return;
  SamplingKernel<<<args.num_rows, kThreads, 0, stream>>>(args);
}

}  // namespace junction::cuda
