// Flash attention (prefill tiles and split-KV decode tiles over paged KV) against a float64
// reference: awkward lengths, partial last blocks, shuffled block tables, GQA ratios, bf16/fp16.
#include "backends/cuda/kernels/flash_attention.h"

#include <algorithm>
#include <numeric>
#include <sstream>

#include "backends/cuda/cuda_context.h"
#include "backends/cuda/flash_plan.h"
#include "tests/backends/cuda/cuda_test_util.h"

namespace junction::cuda::testing {
namespace {

struct ChunkShape {
  int num_tokens;
  int num_computed;
};

struct AttentionCase {
  int num_heads, num_kv_heads, head_dim, block_size;
  DType dtype;
  std::vector<ChunkShape> chunks;
  int min_split_keys = 512;
};

std::string Describe(const AttentionCase& c) {
  std::ostringstream s;
  s << "heads " << c.num_heads << "/" << c.num_kv_heads << " d=" << c.head_dim
    << " block=" << c.block_size << " " << DTypeName(c.dtype) << " split>=" << c.min_split_keys
    << " chunks:";
  for (const ChunkShape& ch : c.chunks) s << " (" << ch.num_tokens << "+" << ch.num_computed << ")";
  return s.str();
}

void RunCase(const AttentionCase& c, std::mt19937& rng) {
  INFO(Describe(c));
  const int d = c.head_dim, hq = c.num_heads, hkv = c.num_kv_heads, bs = c.block_size;
  const int group = hq / hkv;
  // Blocks for every chunk, shuffled so logical order never matches physical order.
  StepBatch batch;
  int num_blocks = 0;
  for (const ChunkShape& ch : c.chunks)
    num_blocks += (ch.num_tokens + ch.num_computed + bs - 1) / bs;
  std::vector<int> physical(num_blocks + 3);
  std::iota(physical.begin(), physical.end(), 0);
  std::shuffle(physical.begin(), physical.end(), rng);
  int next_block = 0;
  for (const ChunkShape& ch : c.chunks) {
    ScheduledChunk sc;
    sc.first_token = batch.num_tokens();
    sc.num_tokens = ch.num_tokens;
    sc.num_computed = ch.num_computed;
    for (int b = 0; b < (ch.num_tokens + ch.num_computed + bs - 1) / bs; ++b)
      sc.block_table.push_back(BlockId(physical[next_block++]));
    for (int t = 0; t < ch.num_tokens; ++t) batch.token_ids.push_back(0);
    batch.chunks.push_back(sc);
  }
  const int total_blocks = num_blocks + 3;
  const int n = batch.num_tokens();
  const size_t cache_elems = static_cast<size_t>(total_blocks) * bs * hkv * d;
  const std::vector<float> k = RoundToHalf(RandomVector(rng, cache_elems), c.dtype);
  const std::vector<float> v = RoundToHalf(RandomVector(rng, cache_elems), c.dtype);
  const std::vector<float> q =
      RoundToHalf(RandomVector(rng, static_cast<size_t>(n) * hq * d), c.dtype);
  DeviceBuffer k_dev = UploadHalf(k, c.dtype), v_dev = UploadHalf(v, c.dtype);
  DeviceBuffer q_dev = UploadHalf(q, c.dtype);
  DeviceBuffer o_dev = PoisonedHalf(static_cast<size_t>(n) * hq * d);

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
  FlashPlan plan;
  REQUIRE(plan.Build(batch, config, (*cuda)->stream()).ok());
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  auto bind = [&](FlashParams p) {
    p.q = q_dev.data();
    p.k_cache = k_dev.data();
    p.v_cache = v_dev.data();
    p.o = o_dev.data();
    p.scale = scale;
    return p;
  };
  if (plan.num_prefill_items() > 0)
    LaunchFlashPrefill(bind(plan.PrefillParams()), c.dtype, (*cuda)->stream());
  if (plan.num_decode_items() > 0)
    LaunchFlashDecode(bind(plan.DecodeParams()), c.dtype, (*cuda)->stream());
  REQUIRE(cudaGetLastError() == cudaSuccess);
  REQUIRE((*cuda)->SynchronizeStream().ok());
  const std::vector<float> out = DownloadHalf(o_dev, static_cast<size_t>(n) * hq * d, c.dtype);

  std::vector<double> ref(out.size());
  for (const ScheduledChunk& sc : batch.chunks)
    for (int t = 0; t < sc.num_tokens; ++t)
      for (int h = 0; h < hq; ++h) {
        const int pos = sc.num_computed + t, kvh = h / group;
        const float* qv = &q[((sc.first_token + t) * static_cast<size_t>(hq) + h) * d];
        std::vector<double> scores(pos + 1);
        double mx = -1e300;
        for (int j = 0; j <= pos; ++j) {
          const size_t base =
              ((static_cast<size_t>(sc.block_table[j / bs].value) * bs + j % bs) * hkv + kvh) * d;
          double dot = 0;
          for (int i = 0; i < d; ++i) dot += static_cast<double>(qv[i]) * k[base + i];
          scores[j] = dot * scale;
          mx = std::max(mx, scores[j]);
        }
        double sum = 0;
        for (double& s : scores) sum += s = std::exp(s - mx);
        double* dst = &ref[((sc.first_token + t) * static_cast<size_t>(hq) + h) * d];
        for (int j = 0; j <= pos; ++j) {
          const size_t base =
              ((static_cast<size_t>(sc.block_table[j / bs].value) * bs + j % bs) * hkv + kvh) * d;
          for (int i = 0; i < d; ++i) dst[i] += scores[j] / sum * v[base + i];
        }
      }
  const ErrorStats stats = Compare(out, ref);
  INFO("relative L2 " << stats.relative_l2 << ", max |diff| " << stats.max_abs);
  CHECK_FALSE(stats.has_nan);
  CHECK(stats.relative_l2 <= 1e-2);
}

TEST_CASE("flash prefill over paged KV matches float64", "[gpu][cuda]") {
  if (!HaveGpu()) return;
  std::mt19937 rng(1234);
  for (int head_dim : {16, 64, 128})
    for (auto [hq, hkv] : {std::pair{4, 4}, std::pair{8, 2}, std::pair{8, 1}})
      for (DType dtype : {DType::kBF16, DType::kF16}) {
        AttentionCase c{hq, hkv, head_dim, 16, dtype, {{17, 0}, {63, 0}, {65, 3}, {129, 40}}};
        RunCase(c, rng);
      }
  // Long and odd: 1000+ tokens, block size 32, a chunk appended to a long cache.
  RunCase({32, 8, 128, 32, DType::kBF16, {{1000, 0}, {3, 1021}, {257, 700}}}, rng);
  RunCase({16, 16, 64, 16, DType::kF16, {{1300, 0}}}, rng);
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
