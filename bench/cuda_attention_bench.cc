// CUDA attention benchmarks (DESIGN.md §8): causal paged prefill in TFLOP/s and split-KV paged
// decode in KV bytes read per second, plus the device copy bandwidth they are judged against.
// Timings: CUDA events, warm-up, median of repeated launches. Peers:
// bench/peers/attention_peers.py.
#ifdef JUNCTION_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/bench_registry.h"
#include "bench/cuda_bench_util.h"

JUNCTION_BENCHMARK(cuda_attention_prefill,
                   "causal paged flash prefill, d=128, 16 heads, 16k tokens: TFLOP/s") {
  using namespace junction::cuda;
  CudaContext* cuda = BenchContext();
  if (cuda == nullptr) return 1;
  FILE* out = OpenOut(args);
  char line[256];
  // The kernels side by side: the portable mma.sync one and, where the device is Hopper, the
  // wgmma one with each K/V producer (cp.async gathers, TMA boxes) and, with TMA, each consumer
  // schedule (intra-warpgroup overlap, and ping-pong on top).
  const bool hopper = cuda->device().cuda_sm >= 90;
  // Each sequence's blocks side by side, and (for the TMA kernels, which load adjacent blocks
  // in larger boxes) shuffled.
  struct Variant {
    FlashPrefillImpl impl;
    bool shuffled;
    const char* name;
  };
  const Variant variants[] = {{FlashPrefillImpl::kPortable, false, "mma"},
                              {FlashPrefillImpl::kSm90, false, "sm90"},
                              {FlashPrefillImpl::kSm90Tma, false, "sm90-tma"},
                              {FlashPrefillImpl::kSm90Tma, true, "sm90-tma"},
                              {FlashPrefillImpl::kSm90TmaPingPong, false, "sm90-tma-pingpong"},
                              {FlashPrefillImpl::kSm90TmaPingPong, true, "sm90-tma-pingpong"}};
  for (int seq : {1024, 4096, 16384}) {
    for (const Variant& variant : variants) {
      if (variant.impl != FlashPrefillImpl::kPortable && !hopper) continue;
      AttentionSetup s{16384 / seq, seq, seq, 16, 16};
      s.prefill_impl = variant.impl;
      s.shuffled_blocks = variant.shuffled;
      float ms = 0;
      if (TimeAttention(*cuda, s, &ms) != 0) return 1;
      const double flops = 4.0 * s.batch * s.num_heads * double(seq) * seq / 2 * s.head_dim;
      std::snprintf(line, sizeof(line),
                    "junction prefill kernel=%s blocks=%s seq=%d batch=%d ms=%.3f tflops=%.1f\n",
                    variant.name, variant.shuffled ? "shuffled" : "adjacent", seq, s.batch, ms,
                    flops / ms / 1e9);
      Emit(out, line);
    }
  }
  if (out) std::fclose(out);
  return 0;
}

JUNCTION_BENCHMARK(cuda_attention_decode,
                   "split-KV paged decode, GQA 32/8, d=128: batch-64 KV TB/s, device copy TB/s, "
                   "batch-1 latency; --batch1: the engine's batch-1 shapes alone "
                   "(for a profiler)") {
  using namespace junction::cuda;
  CudaContext* cuda = BenchContext();
  if (cuda == nullptr) return 1;
  FILE* out = OpenOut(args);
  char line[256];
  const bool batch1_only = std::find(args.begin(), args.end(), "--batch1") != args.end();
  if (!batch1_only) {
    const double tbps = CopyTbps(*cuda);
    if (tbps < 0) return 1;
    std::snprintf(line, sizeof(line), "device copy bytes=%zu tbps=%.2f (read+write)\n",
                  size_t{2} << 30, tbps);
    Emit(out, line);
    for (int context : {1024, 8192, 32768}) {
      AttentionSetup s{64, 1, context, 32, 8};
      float ms = 0;
      if (TimeAttention(*cuda, s, &ms) != 0) return 1;
      const double bytes = 64.0 * context * 8 * 128 * 2 * 2;
      std::snprintf(line, sizeof(line), "junction decode context=%d ms=%.3f kv_tbps=%.2f\n",
                    context, ms, bytes / ms / 1e9);
      Emit(out, line);
    }
  }
  // Batch 1 at the engine_8b benchmark's context: latency, not bandwidth (about 2.6 MB of K/V,
  // L2-resident across repeats), for the engine's shortest split and its neighbours.
  const int engine_split = FlashPlanConfig{}.min_split_keys;
  for (int context : {640, 4096})
    for (int split : {engine_split, engine_split / 2, engine_split * 2}) {
      if (batch1_only && split != engine_split) continue;
      AttentionSetup s{1, 1, context, 32, 8};
      s.min_split_keys = split;
      float ms = 0;
      if (TimeAttention(*cuda, s, &ms) != 0) return 1;
      std::snprintf(line, sizeof(line),
                    "junction decode batch=1 context=%d min_split_keys=%d%s us=%.1f\n", context,
                    split, split == engine_split ? " (engine)" : "", ms * 1e3);
      Emit(out, line);
    }
  if (out) std::fclose(out);
  return 0;
}

#endif  // JUNCTION_WITH_CUDA
