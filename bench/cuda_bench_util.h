// Shared by the CUDA benchmarks: random device data, CUDA-event timing (median of repeated
// launches after warm-up), our flash attention on a paged problem (the reference every mixer's
// prefill is compared with), the device copy bandwidth, and result lines to stdout + --out FILE.
#pragma once
#ifdef JUNCTION_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_context.h"
#include "backends/cuda/device_memory.h"
#include "backends/cuda/flash_plan.h"
#include "backends/cuda/kernels/flash_attention.h"
#include "engine/common/dtype.h"

namespace junction::cuda {

// The device's context for a benchmark; null (the reason printed) when there is no usable GPU.
inline CudaContext* BenchContext() {
  auto cuda = CudaContext::Default();
  if (cuda.ok()) return *cuda;
  std::fprintf(stderr, "%s\n", cuda.status().ToString().c_str());
  return nullptr;
}

// Fills a device buffer with random bf16 values N(0,1): one random 32 MiB tile, replicated.
inline bool FillRandom(void* dst, size_t num_elems, uint32_t seed) {
  const size_t tile = std::min<size_t>(num_elems, size_t{16} << 20);
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  std::vector<uint16_t> host(tile);
  for (auto& h : host) h = FloatToBF16(dist(rng));
  for (size_t done = 0; done < num_elems; done += tile) {
    const size_t n = std::min(tile, num_elems - done);
    if (cudaMemcpy(static_cast<uint16_t*>(dst) + done, host.data(), n * 2,
                   cudaMemcpyHostToDevice) != cudaSuccess)
      return false;
  }
  return cudaDeviceSynchronize() == cudaSuccess;
}

template <typename Fn>
float MedianMs(CudaContext& cuda, Fn&& fn, int reps) {
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  for (int i = 0; i < 3; ++i) fn();
  std::vector<float> times;
  for (int i = 0; i < reps; ++i) {
    cudaEventRecord(start, cuda.stream());
    fn();
    cudaEventRecord(stop, cuda.stream());
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    times.push_back(ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// A paged attention problem: `batch` sequences of `context` tokens, the last `q_len` of them
// queries (q_len == context: causal prefill; 1: decode).
struct AttentionSetup {
  int batch, q_len, context, num_heads, num_kv_heads, head_dim = 128, block_size = 16;
  FlashPrefillImpl prefill_impl = FlashPrefillImpl::kAuto;
  int min_split_keys = FlashPlanConfig{}.min_split_keys;  // the engine's unless swept
  // Block tables in a seeded random order instead of each sequence's blocks side by side (a
  // long-running cache's fragmentation; the TMA prefill loads adjacent blocks in larger boxes).
  bool shuffled_blocks = false;
};

// Our flash attention on `s`: builds the paged caches (contiguous block tables), q, o and the
// plan; times the launches (median ms). 0 on success.
inline int TimeAttention(CudaContext& cuda, const AttentionSetup& s, float* ms_out) {
  const int blocks_per_seq = (s.context + s.block_size - 1) / s.block_size;
  const int num_blocks = s.batch * blocks_per_seq;
  const size_t cache_elems = size_t(num_blocks) * s.block_size * s.num_kv_heads * s.head_dim;
  const size_t q_elems = size_t(s.batch) * s.q_len * s.num_heads * s.head_dim;
  auto k = DeviceBuffer::Allocate(cache_elems * 2), v = DeviceBuffer::Allocate(cache_elems * 2);
  auto q = DeviceBuffer::Allocate(q_elems * 2), o = DeviceBuffer::Allocate(q_elems * 2);
  if (!k.ok() || !v.ok() || !q.ok() || !o.ok()) return 1;
  if (!FillRandom(k->data(), cache_elems, 1) || !FillRandom(v->data(), cache_elems, 2) ||
      !FillRandom(q->data(), q_elems, 3))
    return 1;
  std::vector<int32_t> physical(num_blocks);
  std::iota(physical.begin(), physical.end(), 0);
  if (s.shuffled_blocks) std::shuffle(physical.begin(), physical.end(), std::mt19937(7));
  StepBatch batch;
  for (int b = 0; b < s.batch; ++b) {
    ScheduledChunk c;
    c.first_token = b * s.q_len;
    c.num_tokens = s.q_len;
    c.num_computed = s.context - s.q_len;
    for (int i = 0; i < blocks_per_seq; ++i)
      c.block_table.push_back(BlockId(physical[b * blocks_per_seq + i]));
    batch.chunks.push_back(c);
  }
  batch.token_ids.assign(size_t(s.batch) * s.q_len, 0);
  FlashPlanConfig config;
  config.num_heads = s.num_heads;
  config.num_kv_heads = s.num_kv_heads;
  config.head_dim = s.head_dim;
  config.block_size = s.block_size;
  config.num_blocks = num_blocks;
  config.num_sms = cuda.num_sms();
  config.decode_ctas_per_sm = FlashDecodeCtasPerSm(s.head_dim);
  config.min_split_keys = s.min_split_keys;
  FlashPlan plan;
  if (!plan.Build(batch, config, cuda.stream()).ok()) return 1;
  auto bind = [&](FlashParams p) {
    p.q = q->data();
    p.k_cache = k->data();
    p.v_cache = v->data();
    p.o = o->data();
    p.scale = 1.0f / std::sqrt(float(s.head_dim));
    return p;
  };
  const FlashParams prefill = bind(plan.PrefillParams()), decode = bind(plan.DecodeParams());
  *ms_out = MedianMs(
      cuda,
      [&] {
        if (plan.num_prefill_items() > 0)
          LaunchFlashPrefill(prefill, DType::kBF16, cuda.stream(), s.prefill_impl);
        if (plan.num_decode_items() > 0) LaunchFlashDecode(decode, DType::kBF16, cuda.stream());
      },
      20);
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}

// The file named by `--out FILE` in `args`, opened for appending; null without one.
inline FILE* OpenOut(const std::vector<std::string>& args) {
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--out") return std::fopen(args[i + 1].c_str(), "a");
  return nullptr;
}

// Prints `line` and appends it to `out` when there is one.
inline void Emit(FILE* out, const char* line) {
  std::printf("%s", line);
  if (out) std::fprintf(out, "%s", line);
}

// Device-to-device copy bandwidth (read + write bytes per second, TB/s) over 2 x `bytes`: the
// ceiling that bandwidth-bound kernels are judged against. Negative on failure.
inline double CopyTbps(CudaContext& cuda, size_t bytes = size_t{2} << 30) {
  auto a = DeviceBuffer::Allocate(bytes), b = DeviceBuffer::Allocate(bytes);
  if (!a.ok() || !b.ok() || !FillRandom(a->data(), bytes / 2, 9)) return -1;
  const float ms = MedianMs(
      cuda,
      [&] {
        cudaMemcpyAsync(b->data(), a->data(), bytes, cudaMemcpyDeviceToDevice, cuda.stream());
      },
      10);
  return 2.0 * bytes / ms / 1e9;
}

}  // namespace junction::cuda

#endif  // JUNCTION_WITH_CUDA
