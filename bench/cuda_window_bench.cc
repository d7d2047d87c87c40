// Sliding window + sinks on the GPU (DESIGN.md §8, issue #11): decode step time at total lengths
// 1k-128k with a 4096 window (must be flat: only the sinks' and the window's blocks are read;
// the others are released, as the scheduler does), its K/V bandwidth against the device copy
// bandwidth, and window prefill against our full causal flash prefill on the same shapes.
// Timings: CUDA events, warm-up, median of repeated launches. `--quick`: fewer shapes.
#ifdef JUNCTION_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/bench_registry.h"
#include "bench/cuda_bench_util.h"

namespace junction::cuda {
namespace {

struct WindowShape {
  int window = 4096;
  int num_sinks = 4;
};

// Our flash kernels in window mode on `s` (AttentionPolicy::kWindow, whole prompt or one decode
// token per sequence): paged caches holding only the blocks some query sees; the rest of each
// block table is released. Median ms in *ms_out; *kv_bytes_out: the K/V bytes the step must read
// (decode). 0 on success.
int TimeWindowAttention(CudaContext& cuda, const AttentionSetup& s, WindowShape w, float* ms_out,
                        double* kv_bytes_out) {
  const int bs = s.block_size;
  const int blocks_per_seq = (s.context + bs - 1) / bs;
  const int num_computed = s.context - s.q_len;
  const int first_visible = std::max(0, num_computed - w.window + 1);
  const int sinks_end = std::min(w.num_sinks, std::max(0, s.context - 1 - w.window + 1));
  StepBatch batch;
  int num_blocks = 0;
  int64_t visible_keys = 0;
  for (int b = 0; b < s.batch; ++b) {
    ScheduledChunk c;
    c.first_token = b * s.q_len;
    c.num_tokens = s.q_len;
    c.num_computed = num_computed;
    c.policy = {AttentionPolicy::Mode::kWindow, w.window, w.num_sinks};
    for (int i = 0; i < blocks_per_seq; ++i) {
      const bool visible = i * bs < sinks_end || (i + 1) * bs > first_visible;
      c.block_table.push_back(visible ? BlockId(num_blocks++) : BlockId{});
    }
    batch.chunks.push_back(c);
    visible_keys += sinks_end + (s.context - first_visible);
  }
  batch.token_ids.assign(size_t(s.batch) * s.q_len, 0);
  const size_t cache_elems = size_t(num_blocks) * bs * s.num_kv_heads * s.head_dim;
  const size_t q_elems = size_t(s.batch) * s.q_len * s.num_heads * s.head_dim;
  auto k = DeviceBuffer::Allocate(cache_elems * 2), v = DeviceBuffer::Allocate(cache_elems * 2);
  auto q = DeviceBuffer::Allocate(q_elems * 2), o = DeviceBuffer::Allocate(q_elems * 2);
  if (!k.ok() || !v.ok() || !q.ok() || !o.ok()) return 1;
  if (!FillRandom(k->data(), cache_elems, 1) || !FillRandom(v->data(), cache_elems, 2) ||
      !FillRandom(q->data(), q_elems, 3))
    return 1;
  FlashPlanConfig config;
  config.num_heads = s.num_heads;
  config.num_kv_heads = s.num_kv_heads;
  config.head_dim = s.head_dim;
  config.block_size = bs;
  config.num_blocks = num_blocks;
  config.num_sms = cuda.num_sms();
  config.decode_ctas_per_sm = FlashDecodeCtasPerSm(s.head_dim);
  config.window_policy = true;
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
        if (plan.num_prefill_items() > 0) LaunchFlashPrefill(prefill, DType::kBF16, cuda.stream());
        if (plan.num_decode_items() > 0) LaunchFlashDecode(decode, DType::kBF16, cuda.stream());
      },
      20);
  *kv_bytes_out = double(visible_keys) * s.num_kv_heads * s.head_dim * 2 * 2;
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}

bool HasFlag(const std::vector<std::string>& args, const char* flag) {
  return std::find(args.begin(), args.end(), flag) != args.end();
}

}  // namespace
}  // namespace junction::cuda

JUNCTION_BENCHMARK(cuda_window,
                   "sliding window 4096 + 4 sinks: decode flat in total length (batch 32, GQA "
                   "32/8, d=128) vs flash, K/V TB/s vs copy; window prefill vs full flash "
                   "prefill at 1k-32k, d=64/128 [--quick]") {
  using namespace junction::cuda;
  CudaContext* cuda = BenchContext();
  if (cuda == nullptr) return 1;
  const bool quick = HasFlag(args, "--quick");
  FILE* out = OpenOut(args);
  char line[512];
  const double copy_tbps = CopyTbps(*cuda);
  if (copy_tbps < 0) return 1;
  std::snprintf(line, sizeof(line), "device %s copy_tbps=%.2f (read+write, 2 x %zu bytes)\n",
                cuda->device().name.c_str(), copy_tbps, size_t{2} << 30);
  Emit(out, line);
  const WindowShape w;
  const std::vector<int> totals =
      quick ? std::vector<int>{1024, 32768, 131072} : std::vector<int>{1024, 8192, 32768, 131072};
  for (int total : totals) {
    const AttentionSetup s{32, 1, total, 32, 8, 128};
    float ms = 0, flash_ms = 0;
    double bytes = 0;
    if (TimeWindowAttention(*cuda, s, w, &ms, &bytes) != 0) return 1;
    if (TimeAttention(*cuda, s, &flash_ms) != 0) return 1;
    const double tbps = bytes / ms / 1e9;
    std::snprintf(line, sizeof(line),
                  "window decode total=%d window=%d sinks=%d batch=%d heads=32/8 d=128 ms=%.4f "
                  "flash_ms=%.4f window/flash=%.2f kv_tbps=%.2f copy_frac=%.2f\n",
                  total, w.window, w.num_sinks, s.batch, ms, flash_ms, ms / flash_ms, tbps,
                  tbps / copy_tbps);
    Emit(out, line);
  }
  const std::vector<int> seqs = quick ? std::vector<int>{4096, 32768}
                                      : std::vector<int>{1024, 2048, 4096, 8192, 16384, 32768};
  for (int d : {64, 128})
    for (int seq : seqs) {
      const AttentionSetup s{std::max(1, 32768 / seq), seq, seq, 16, 16, d};
      float ms = 0, flash_ms = 0;
      double bytes = 0;
      if (TimeWindowAttention(*cuda, s, w, &ms, &bytes) != 0) return 1;
      if (TimeAttention(*cuda, s, &flash_ms) != 0) return 1;
      // Useful FLOPs: every query against the keys it sees (window, and sinks once past it).
      double pairs = 0;
      for (int p = 0; p < seq; ++p)
        pairs += std::min(p + 1, w.window) + std::min(w.num_sinks, std::max(0, p + 1 - w.window));
      const double flops = 4.0 * s.batch * s.num_heads * pairs * d;
      std::snprintf(line, sizeof(line),
                    "window prefill d=%d seq=%d batch=%d heads=16 ms=%.3f flash_ms=%.3f "
                    "window/flash=%.2f window_tflops=%.1f\n",
                    d, seq, s.batch, ms, flash_ms, ms / flash_ms, flops / ms / 1e9);
      Emit(out, line);
    }
  if (out) std::fclose(out);
  return 0;
}

#endif  // JUNCTION_WITH_CUDA
