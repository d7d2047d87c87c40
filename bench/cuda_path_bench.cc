// PaTH attention benchmarks (issue #11): "cuda.path" prefill (store + UT block prep + blockwise
// attention + key finalize) against our flash prefill on the same shape, and the fused in-place
// decode's bandwidth on the bytes it must move (K read + K write + V read) against the device
// copy bandwidth. CUDA events, warm-up, median. `--quick`: fewer shapes.
#ifdef JUNCTION_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "backends/cuda/path_layer.h"
#include "bench/bench_registry.h"
#include "bench/cuda_bench_util.h"

namespace junction::cuda {
namespace {

// Cheap deterministic uniform [-1, 1) (host generation of 10^8 values must stay fast).
struct Lcg {
  uint64_t state;
  float Next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>(static_cast<int64_t>(state >> 40) - (1 << 23)) / float(1 << 23);
  }
};

struct PathBuffers {
  DeviceBuffer qkv, w, beta, log_gate, forget, o, k_cache, v_cache, f_cache;
};

template <typename T>
bool Upload(DeviceBuffer& dst, const std::vector<T>& host) {
  auto buffer = DeviceBuffer::Allocate(host.size() * sizeof(T) + 16);
  if (!buffer.ok()) return false;
  dst = std::move(*buffer);
  return cudaMemcpy(dst.data(), host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice) ==
         cudaSuccess;
}

// Random step inputs and caches for `s` (all sequences `context` long, the last q_len new).
bool MakeInputs(const AttentionSetup& s, PathBuffers& b, PathPlan& plan, CudaContext& cuda) {
  const int d = s.head_dim, hq = s.num_heads, hkv = s.num_kv_heads;
  const int64_t tokens = int64_t{s.batch} * s.q_len;
  const int blocks_per_seq = (s.context + s.block_size - 1) / s.block_size;
  const int num_blocks = s.batch * blocks_per_seq;
  const size_t cache_elems = size_t(num_blocks) * s.block_size * hkv * d;
  const size_t qkv_elems = size_t(tokens) * (hq + 2 * hkv) * d;
  auto alloc = [](DeviceBuffer& dst, size_t bytes) {
    auto buffer = DeviceBuffer::Allocate(bytes);
    if (!buffer.ok()) return false;
    dst = std::move(*buffer);
    return true;
  };
  if (!alloc(b.qkv, qkv_elems * 2) || !alloc(b.k_cache, cache_elems * 2) ||
      !alloc(b.v_cache, cache_elems * 2) || !alloc(b.o, size_t(tokens) * hq * d * 2) ||
      !alloc(b.forget, size_t(tokens) * hq * 4) ||
      !alloc(b.f_cache, size_t(num_blocks) * s.block_size * hq * 4))
    return false;
  if (!FillRandom(b.qkv.data(), qkv_elems, 4) || !FillRandom(b.k_cache.data(), cache_elems, 5) ||
      !FillRandom(b.v_cache.data(), cache_elems, 6))
    return false;
  if (cudaMemset(b.f_cache.data(), 0, b.f_cache.size_bytes()) != cudaSuccess) return false;
  Lcg rng{17};
  std::vector<float> w(size_t(tokens) * hkv * d), beta(size_t(tokens) * hkv),
      log_gate(size_t(tokens) * hq);
  for (size_t r = 0; r < w.size(); r += d) {
    float norm = 0;
    for (int i = 0; i < d; ++i) norm += (w[r + i] = rng.Next()) * w[r + i];
    for (int i = 0; i < d; ++i) w[r + i] /= std::sqrt(norm);
  }
  for (float& x : beta) x = 1.0f + 0.9f * rng.Next();
  for (float& x : log_gate) x = -0.05f * (1.5f + rng.Next());
  if (!Upload(b.w, w) || !Upload(b.beta, beta) || !Upload(b.log_gate, log_gate)) return false;
  StepBatch batch;
  for (int i = 0; i < s.batch; ++i) {
    ScheduledChunk c;
    c.first_token = i * s.q_len;
    c.num_tokens = s.q_len;
    c.num_computed = s.context - s.q_len;
    for (int k = 0; k < blocks_per_seq; ++k)
      c.block_table.push_back(BlockId(i * blocks_per_seq + k));
    batch.chunks.push_back(c);
  }
  batch.token_ids.assign(size_t(tokens), 0);
  PathPlanConfig config;
  config.num_heads = hq;
  config.num_kv_heads = hkv;
  config.head_dim = d;
  config.block_size = s.block_size;
  config.num_blocks = num_blocks;
  config.num_sms = cuda.num_sms();
  return plan.Build(batch, config, cuda.stream()).ok() && cudaDeviceSynchronize() == cudaSuccess;
}

PathParams Bind(const PathPlan& plan, const PathBuffers& b, const AttentionSetup& s) {
  PathParams p = plan.Params();
  p.qkv = b.qkv.data();
  p.qkv_stride = int64_t{s.num_heads + 2 * s.num_kv_heads} * s.head_dim;
  p.w = b.w.as<float>();
  p.beta = b.beta.as<float>();
  p.log_gate = b.log_gate.as<float>();
  p.forget = b.forget.as<float>();
  p.o = b.o.data();
  p.k_cache = b.k_cache.data();
  p.v_cache = b.v_cache.data();
  p.f_cache = b.f_cache.as<float>();
  p.scale = 1.0f / std::sqrt(float(s.head_dim));
  return p;
}

bool HasFlag(const std::vector<std::string>& args, const char* flag) {
  for (const std::string& a : args)
    if (a == flag) return true;
  return false;
}

}  // namespace
}  // namespace junction::cuda

JUNCTION_BENCHMARK(cuda_path,
                   "PaTH (forget gate) prefill vs our flash prefill (d=64/128, 16 heads, 1k-32k "
                   "tokens); fused decode bandwidth (K r+w, V r) vs device copy") {
  using namespace junction::cuda;
  CudaContext* cuda = BenchContext();
  if (cuda == nullptr) return 1;
  const bool quick = HasFlag(args, "--quick");
  FILE* out = OpenOut(args);
  char line[512];
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::snprintf(line, sizeof(line), "cuda_path device=%s%s\n", prop.name, quick ? " (quick)" : "");
  Emit(out, line);
  const double copy_tbps = CopyTbps(*cuda);
  std::snprintf(line, sizeof(line), "device copy tbps=%.2f (read+write)\n", copy_tbps);
  Emit(out, line);

  struct PrefillShape {
    int head_dim, seq;
  };
  std::vector<PrefillShape> prefill;
  if (quick) {
    prefill = {{128, 1024}, {128, 8192}, {64, 4096}};
  } else {
    for (int d : {128, 64})
      for (int seq : {1024, 4096, 16384, 32768}) prefill.push_back({d, seq});
  }
  for (const PrefillShape& shape : prefill) {
    AttentionSetup s{std::max(1, 16384 / shape.seq), shape.seq, shape.seq, 16, 16, shape.head_dim};
    float flash_ms = 0;
    if (TimeAttention(*cuda, s, &flash_ms) != 0) return 1;
    PathBuffers b;
    PathPlan plan;
    if (!MakeInputs(s, b, plan, *cuda)) return 1;
    const PathParams p = Bind(plan, b, s);
    const cudaStream_t stream = cuda->stream();
    const int reps = shape.seq >= 16384 ? 7 : 15;
    const float total = MedianMs(
        *cuda, [&] { LaunchPathAttention(p, stream); }, reps);
    const float prep = MedianMs(
        *cuda,
        [&] {
          LaunchPathStore(p, stream);
          LaunchPathPrep(p, stream);
        },
        reps);
    const float attn = MedianMs(
        *cuda, [&] { LaunchPathPrefill(p, stream); }, reps);
    const float keys = MedianMs(
        *cuda, [&] { LaunchPathFinalize(p, stream); }, reps);
    const float carry = MedianMs(
        *cuda, [&] { LaunchPathFinalize(p, stream, PathFinalizeImpl::kCarry); }, reps);
    if (cudaGetLastError() != cudaSuccess) return 1;
    const double flash_flops =
        4.0 * s.batch * s.num_heads * double(s.context) * s.context / 2 * s.head_dim;
    std::snprintf(line, sizeof(line),
                  "path prefill d=%d seq=%d batch=%d ms=%.3f (prep %.3f attn %.3f keys %.3f; "
                  "keys carried block by block %.3f) flash_ms=%.3f ratio=%.2f flash_tflops=%.1f "
                  "path_attn_tflops=%.1f\n",
                  s.head_dim, shape.seq, s.batch, total, prep, attn, keys, carry, flash_ms,
                  total / flash_ms, flash_flops / flash_ms / 1e9, 2 * flash_flops / attn / 1e9);
    Emit(out, line);
  }

  const std::vector<int> contexts =
      quick ? std::vector<int>{8192} : std::vector<int>{1024, 8192, 32768};
  for (int context : contexts) {
    AttentionSetup s{64, 1, context, 32, 8, 128};
    float flash_ms = 0;
    if (TimeAttention(*cuda, s, &flash_ms) != 0) return 1;
    PathBuffers b;
    PathPlan plan;
    if (!MakeInputs(s, b, plan, *cuda)) return 1;
    const PathParams p = Bind(plan, b, s);
    const cudaStream_t stream = cuda->stream();
    const float ms = MedianMs(
        *cuda, [&] { LaunchPathAttention(p, stream); }, 20);
    if (cudaGetLastError() != cudaSuccess) return 1;
    const double bytes = 3.0 * s.batch * double(context - 1) * s.num_kv_heads * s.head_dim * 2;
    const double tbps = bytes / ms / 1e9;
    std::snprintf(line, sizeof(line),
                  "path decode batch=%d heads=%d/%d d=%d context=%d ms=%.3f tbps=%.2f "
                  "(%.0f%% of copy) flash_ms=%.3f ratio=%.2f\n",
                  s.batch, s.num_heads, s.num_kv_heads, s.head_dim, context, ms, tbps,
                  100.0 * tbps / copy_tbps, flash_ms, ms / flash_ms);
    Emit(out, line);
  }
  if (out) std::fclose(out);
  return 0;
}

#endif  // JUNCTION_WITH_CUDA
