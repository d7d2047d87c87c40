// Flash attention (prefill tiles and split-KV decode tiles over paged KV) against a float64
// reference: awkward lengths, partial last blocks, shuffled block tables, GQA ratios, bf16/fp16,
// window policies with sinks; the portable (mma.sync) and Hopper (wgmma) prefill kernels each.
#include "backends/cuda/kernels/flash_attention.h"

#include <algorithm>
#include <numeric>
#include <sstream>

#include "backends/cuda/cuda_context.h"
#include "backends/cuda/flash_plan.h"
#include "backends/cuda/kernels/flash_prefill_sm90.h"
#include "tests/backends/cuda/cuda_test_util.h"

namespace junction::cuda::testing {
namespace {

struct ChunkShape {
  int num_tokens;
  int num_computed;
  int window = 0;  // > 0: AttentionPolicy::kWindow with num_sinks sinks
  int num_sinks = 0;
};

struct AttentionCase {
  int num_heads, num_kv_heads, head_dim, block_size;
  DType dtype;
  std::vector<ChunkShape> chunks;
  int min_split_keys = 512;
  FlashPrefillImpl impl = FlashPrefillImpl::kAuto;
};

std::string Describe(const AttentionCase& c) {
  std::ostringstream s;
  s << "heads " << c.num_heads << "/" << c.num_kv_heads << " d=" << c.head_dim
    << " block=" << c.block_size << " " << DTypeName(c.dtype) << " split>=" << c.min_split_keys
    << (c.impl == FlashPrefillImpl::kPortable          ? " mma.sync"
        : c.impl == FlashPrefillImpl::kSm90            ? " sm90"
        : c.impl == FlashPrefillImpl::kSm90Tma         ? " sm90 tma"
        : c.impl == FlashPrefillImpl::kSm90TmaPingPong ? " sm90 tma ping-pong"
                                                       : " auto")
    << " chunks:";
  for (const ChunkShape& ch : c.chunks) {
    s << " (" << ch.num_tokens << "+" << ch.num_computed;
    if (ch.window > 0) s << " w" << ch.window << " s" << ch.num_sinks;
    s << ")";
  }
  return s.str();
}

int WindowBegin(const ChunkShape& ch, int pos) {
  return ch.window > 0 ? std::max(0, pos - ch.window + 1) : 0;
}
int SinksEnd(const ChunkShape& ch, int pos) { return std::min(ch.num_sinks, WindowBegin(ch, pos)); }

void RunCase(const AttentionCase& c, std::mt19937& rng) {
  INFO(Describe(c));
  const int d = c.head_dim, hq = c.num_heads, hkv = c.num_kv_heads, bs = c.block_size;
  const int group = hq / hkv;
  // Blocks for every chunk: runs of 1 to 4 physically adjacent blocks in shuffled order, so
  // logical neighbours are sometimes adjacent in the cache (the TMA producer loads those in one
  // box) and sometimes not.
  StepBatch batch;
  int num_blocks = 0;
  for (const ChunkShape& ch : c.chunks)
    num_blocks += (ch.num_tokens + ch.num_computed + bs - 1) / bs;
  std::vector<std::vector<int>> runs;
  for (int b = 0; b < num_blocks + 3;) {
    const int length = std::min(std::uniform_int_distribution<int>(1, 4)(rng), num_blocks + 3 - b);
    runs.emplace_back(length);
    std::iota(runs.back().begin(), runs.back().end(), b);
    b += length;
  }
  std::shuffle(runs.begin(), runs.end(), rng);
  std::vector<int> physical;
  for (const std::vector<int>& run : runs) physical.insert(physical.end(), run.begin(), run.end());
  int next_block = 0;
  for (const ChunkShape& ch : c.chunks) {
    ScheduledChunk sc;
    sc.first_token = batch.num_tokens();
    sc.num_tokens = ch.num_tokens;
    sc.num_computed = ch.num_computed;
    if (ch.window > 0) sc.policy = {AttentionPolicy::Mode::kWindow, ch.window, ch.num_sinks};
    for (int b = 0; b < (ch.num_tokens + ch.num_computed + bs - 1) / bs; ++b)
      sc.block_table.push_back(BlockId(physical[next_block++]));
    for (int t = 0; t < ch.num_tokens; ++t) batch.token_ids.push_back(0);
    batch.chunks.push_back(sc);
  }
  const int total_blocks = num_blocks + 3;
  const int n = batch.num_tokens();
  const size_t cache_elems = static_cast<size_t>(total_blocks) * bs * hkv * d;
  std::vector<float> k = RoundToHalf(RandomVector(rng, cache_elems), c.dtype);
  std::vector<float> v = RoundToHalf(RandomVector(rng, cache_elems), c.dtype);
  // Cache rows no chunk's context covers (the tail of a chunk's last block, the spare blocks)
  // hold NaN, as a stale row may hold an inf: a kernel that reads past a context and multiplies
  // by a zero probability produces NaN.
  std::vector<bool> covered(static_cast<size_t>(total_blocks) * bs, false);
  for (const ScheduledChunk& sc : batch.chunks)
    for (int pos = 0; pos < sc.num_computed + sc.num_tokens; ++pos)
      covered[static_cast<size_t>(sc.block_table[pos / bs].value) * bs + pos % bs] = true;
  const size_t row_elems = static_cast<size_t>(hkv) * d;
  for (size_t row = 0; row < covered.size(); ++row)
    if (!covered[row]) {
      std::fill_n(k.begin() + row * row_elems, row_elems, std::nanf(""));
      std::fill_n(v.begin() + row * row_elems, row_elems, std::nanf(""));
    }
  const std::vector<float> q =
      RoundToHalf(RandomVector(rng, static_cast<size_t>(n) * hq * d), c.dtype);
  const std::vector<float> q_sink =
      RoundToHalf(RandomVector(rng, static_cast<size_t>(n) * hq * d), c.dtype);
  DeviceBuffer k_dev = UploadHalf(k, c.dtype), v_dev = UploadHalf(v, c.dtype);
  DeviceBuffer q_dev = UploadHalf(q, c.dtype), q_sink_dev = UploadHalf(q_sink, c.dtype);
  DeviceBuffer o_dev = PoisonedHalf(static_cast<size_t>(n) * hq * d);

  bool has_sinks = false;
  for (const ChunkShape& ch : c.chunks) has_sinks |= ch.num_sinks > 0;
  auto cuda = CudaContext::Default();
  REQUIRE(cuda.ok());
  FlashPlanConfig config;
  config.num_heads = hq;
  config.num_kv_heads = hkv;
  config.head_dim = d;
  config.block_size = bs;
  config.num_blocks = total_blocks;
  config.num_sms = (*cuda)->num_sms();
  config.decode_ctas_per_sm = FlashDecodeCtasPerSm(d);
  config.min_split_keys = c.min_split_keys;
  config.window_policy = true;
  FlashPlan plan;
  REQUIRE(plan.Build(batch, config, (*cuda)->stream()).ok());
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  auto bind = [&](FlashParams p) {
    p.q = q_dev.data();
    // Without sinks no separate sink query is passed, as the attention layer does (the Hopper
    // kernel then alternates its two Q buffers between items).
    p.q_sink = has_sinks ? q_sink_dev.data() : nullptr;
    p.k_cache = k_dev.data();
    p.v_cache = v_dev.data();
    p.o = o_dev.data();
    p.scale = scale;
    return p;
  };
  if ((c.impl == FlashPrefillImpl::kSm90Tma || c.impl == FlashPrefillImpl::kSm90TmaPingPong) &&
      FlashPrefillSm90Supported(d)) {
    // The TMA producer serves every block size that is a multiple of 8; others must take the
    // cp.async producer (and are run to check that they do, correctly).
    const std::string why = FlashPrefillSm90TmaUnavailable(bind(plan.PrefillParams()), c.dtype);
    INFO("TMA unavailable: " << why);
    CHECK(why.empty() == (bs % 8 == 0));
  }
  // Twice over one plan, the output poisoned again in between: split decode counts its
  // splits in device counters that each launch must leave at zero for the next.
  std::vector<std::vector<float>> outs;
  for (int launch = 0; launch < 2; ++launch) {
    if (launch > 0) REQUIRE(cudaMemset(o_dev.data(), 0xff, o_dev.size_bytes()) == cudaSuccess);
    if (plan.num_prefill_items() > 0)
      LaunchFlashPrefill(bind(plan.PrefillParams()), c.dtype, (*cuda)->stream(), c.impl);
    if (plan.num_decode_items() > 0)
      LaunchFlashDecode(bind(plan.DecodeParams()), c.dtype, (*cuda)->stream());
    REQUIRE(cudaGetLastError() == cudaSuccess);
    REQUIRE((*cuda)->SynchronizeStream().ok());
    outs.push_back(DownloadHalf(o_dev, static_cast<size_t>(n) * hq * d, c.dtype));
  }

  std::vector<double> ref(outs[0].size());
  for (size_t ci = 0; ci < batch.chunks.size(); ++ci) {
    const ScheduledChunk& sc = batch.chunks[ci];
    const ChunkShape& shape = c.chunks[ci];
    for (int t = 0; t < sc.num_tokens; ++t)
      for (int h = 0; h < hq; ++h) {
        const int pos = sc.num_computed + t, kvh = h / group;
        const size_t q_off = ((sc.first_token + t) * static_cast<size_t>(hq) + h) * d;
        // The keys the query sees and the query that scores each: sinks, then the window.
        std::vector<std::pair<int, const float*>> keys;
        for (int j = 0; j < SinksEnd(shape, pos); ++j) keys.push_back({j, &q_sink[q_off]});
        for (int j = WindowBegin(shape, pos); j <= pos; ++j) keys.push_back({j, &q[q_off]});
        auto row_of = [&](int j) {
          return ((static_cast<size_t>(sc.block_table[j / bs].value) * bs + j % bs) * hkv + kvh) *
                 d;
        };
        std::vector<double> scores(keys.size());
        double mx = -1e300;
        for (size_t i = 0; i < keys.size(); ++i) {
          double dot = 0;
          for (int e = 0; e < d; ++e)
            dot += static_cast<double>(keys[i].second[e]) * k[row_of(keys[i].first) + e];
          scores[i] = dot * scale;
          mx = std::max(mx, scores[i]);
        }
        double sum = 0;
        for (double& s : scores) sum += s = std::exp(s - mx);
        for (size_t i = 0; i < keys.size(); ++i)
          for (int e = 0; e < d; ++e)
            ref[q_off + e] += scores[i] / sum * v[row_of(keys[i].first) + e];
      }
  }
  for (size_t launch = 0; launch < outs.size(); ++launch) {
    const ErrorStats stats = Compare(outs[launch], ref);
    INFO("launch " << launch << ": relative L2 " << stats.relative_l2 << ", max |diff| "
                   << stats.max_abs);
    CHECK_FALSE(stats.has_nan);
    CHECK(stats.relative_l2 <= 1e-2);
  }
}

TEST_CASE("flash prefill over paged KV matches float64", "[gpu][cuda]") {
  if (!HaveGpu()) return;
  std::mt19937 rng(1234);
  // Both kernels (kSm90 is the portable one off sm_90 and for d = 16).
  for (FlashPrefillImpl impl : {FlashPrefillImpl::kSm90, FlashPrefillImpl::kPortable}) {
    for (int head_dim : {16, 64, 128})
      for (auto [hq, hkv] : {std::pair{4, 4}, std::pair{8, 2}, std::pair{8, 1}})
        for (DType dtype : {DType::kBF16, DType::kF16}) {
          AttentionCase c{hq, hkv, head_dim, 16, dtype, {{17, 0}, {63, 0}, {65, 3}, {129, 40}}};
          c.impl = impl;
          RunCase(c, rng);
        }
    // Long and odd: 1000+ tokens, block size 32, a chunk appended to a long cache.
    RunCase({32, 8, 128, 32, DType::kBF16, {{1000, 0}, {3, 1021}, {257, 700}}, 512, impl}, rng);
    RunCase({16, 16, 64, 16, DType::kF16, {{1300, 0}}, 512, impl}, rng);
    // Windows with sinks, more sinks than one key tile, a window of one token.
    RunCase({8,
             2,
             128,
             16,
             DType::kBF16,
             {{300, 0, 100, 4}, {200, 900, 257, 1}, {90, 50, 64, 0}},
             512,
             impl},
            rng);
  }
}

TEST_CASE("flash prefill: the Hopper (wgmma) kernel matches float64", "[gpu][cuda]") {
  if (!HaveGpu()) return;
  if (!FlashPrefillSm90Supported(128)) {
    WARN("not a compute capability 9.x device: the Hopper prefill kernel is not exercised");
    return;
  }
  std::mt19937 rng(90);
  const DType bf16 = DType::kBF16, f16 = DType::kF16;
  const std::vector<AttentionCase> cases = {
      // Lengths around the 128-row / 128-key tiles, the 64-row warpgroup halves, and 1 token
      // chunks that still run as prefill tiles (group 32 > 16 decode rows).
      {4, 4, 128, 16, bf16, {{1, 0}, {64, 0}, {127, 1}, {128, 0}, {129, 127}, {191, 65}}},
      {32, 1, 64, 16, f16, {{2, 0}, {1, 300}, {33, 95}}},
      // GQA packing with a group that does not divide the tile (6 / 1 = 6 heads per kv head).
      {6, 1, 128, 16, f16, {{100, 0}, {257, 31}}},
      {32, 8, 128, 32, bf16, {{1000, 0}, {3, 1021}, {257, 700}}},
      // Block sizes that are not powers of two, and 8-key blocks.
      {8, 2, 64, 12, bf16, {{333, 100}, {129, 0}}},
      {8, 4, 128, 8, f16, {{200, 77}}},
      // Windows + sinks: sinks spanning two key tiles, windows not a multiple of anything,
      // window 1, a window larger than the context, a full chunk beside window chunks.
      {8, 2, 128, 16, bf16, {{400, 0, 200, 130}, {150, 500, 33, 7}, {60, 20, 1, 2}}},
      {4, 4, 64, 16, f16, {{300, 0, 4096, 4}, {129, 1000, 100, 0}, {70, 0}}},
      {16, 2, 128, 16, bf16, {{257, 300, 129, 3}, {65, 64, 65, 64}}},
  };
  // Both producers: cp.async gathers, and TMA boxes (with cp.async for the tiles of windows
  // that start off a multiple of 8 keys, and for the 12-key blocks); with TMA, both consumer
  // schedules.
  for (FlashPrefillImpl impl :
       {FlashPrefillImpl::kSm90, FlashPrefillImpl::kSm90Tma, FlashPrefillImpl::kSm90TmaPingPong})
    for (AttentionCase c : cases) {
      c.impl = impl;
      RunCase(c, rng);
    }
}

TEST_CASE("flash decode with split KV matches float64", "[gpu][cuda]") {
  if (!HaveGpu()) return;
  std::mt19937 rng(99);
  for (int head_dim : {16, 64, 128})
    for (auto [hq, hkv] : {std::pair{4, 4}, std::pair{32, 8}, std::pair{8, 1}, std::pair{14, 2}})
      for (DType dtype : {DType::kBF16, DType::kF16}) {
        // Contexts 1, 3, 65, 1000, 5000 (several splits), one token each.
        AttentionCase c{hq, hkv,   head_dim,
                        16, dtype, {{1, 0}, {1, 2}, {1, 64}, {1, 999}, {1, 4999}}};
        RunCase(c, rng);
      }
  // Without splitting, with the smallest splits, and a 2-token chunk in decode mode (group 8).
  RunCase({32, 8, 128, 16, DType::kBF16, {{1, 3000}, {2, 777}}, 0}, rng);
  RunCase({32, 8, 128, 16, DType::kBF16, {{1, 3000}, {2, 777}, {1, 17}}, 64}, rng);
}

TEST_CASE("flash mixed prefill and decode in one step", "[gpu][cuda]") {
  if (!HaveGpu()) return;
  std::mt19937 rng(7);
  RunCase({8, 2, 128, 16, DType::kBF16, {{1, 100}, {200, 0}, {1, 1}, {33, 30}, {1, 2048}}}, rng);
  RunCase({4, 2, 16, 16, DType::kBF16, {{1, 9}, {17, 0}, {1, 0}}}, rng);
}

}  // namespace
}  // namespace junction::cuda::testing
