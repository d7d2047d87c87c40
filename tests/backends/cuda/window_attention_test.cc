// Sliding window + global ("sinks") attention on the GPU, and the attention output gate:
//  - the flash kernels' window mode against a float64 reference: sinks scored with their own
//    query, windows smaller and larger than the context and not a multiple of the block size,
//    released blocks, GQA, split decode; keys no query may see are NaN, so reading one shows;
//  - CudaAttentionLayer against the CPU layer on fixture weights across prefill chunks and
//    decode steps (window layers, window policy with sinks and released blocks, positions past
//    2^16, Qwen3.5's output gate);
//  - whole window fixtures (mistral_swa, qwen3_swa) against the CPU runner.
#include <algorithm>
#include <limits>
#include <numeric>
#include <sstream>

#include "backends/cpu/cpu_backends.h"
#include "backends/cuda/cuda_context.h"
#include "backends/cuda/flash_plan.h"
#include "backends/cuda/kernels/flash_attention.h"
#include "engine/model/model_config.h"
#include "tests/backends/cuda/cuda_test_util.h"
#include "tests/backends/cuda/fixture_check.h"

namespace junction::cuda::testing {
namespace {

// The CPU backend's KeyRange (backends/cpu/paged_attention.h).
struct Range {
  int window = 0;
  int num_sinks = 0;
  int WindowBegin(int p) const { return window > 0 ? std::max(0, p - window + 1) : 0; }
  int SinksEnd(int p) const { return std::min(num_sinks, WindowBegin(p)); }
};

Range RangeOf(int layer_window, const AttentionPolicy& policy) {
  Range r{layer_window, 0};
  if (policy.mode == AttentionPolicy::Mode::kWindow) {
    r.window = r.window > 0 ? std::min(r.window, policy.window) : policy.window;
    r.num_sinks = policy.num_sinks;
  }
  return r;
}

AttentionPolicy WindowPolicy(int window, int num_sinks) {
  AttentionPolicy p;
  if (window > 0) p = {AttentionPolicy::Mode::kWindow, window, num_sinks};
  return p;
}

// ---------------------------------------------------------------------------------------------
// Kernel level.

struct WindowChunk {
  int num_tokens;
  int num_computed;
  int policy_window = 0;  // > 0: AttentionPolicy::kWindow
  int num_sinks = 0;
};

struct WindowCase {
  std::string name;
  int num_heads, num_kv_heads, head_dim, block_size;
  int layer_window;  // AttentionSpec::sliding_window
  std::vector<WindowChunk> chunks;
  DType dtype = DType::kBF16;
  int min_split_keys = 512;
};

void RunWindowCase(const WindowCase& c, std::mt19937& rng) {
  INFO(c.name << " (heads " << c.num_heads << "/" << c.num_kv_heads << " d=" << c.head_dim
              << " block " << c.block_size << " layer window " << c.layer_window << ")");
  const int d = c.head_dim, hq = c.num_heads, hkv = c.num_kv_heads, bs = c.block_size;
  const int group = hq / hkv;
  // Logical -> physical: only blocks some query of the chunk sees get one; the rest are released
  // (BlockId{}), as the scheduler does once they fall out of the window.
  StepBatch batch;
  std::vector<Range> ranges;
  std::vector<std::vector<int>> logical;  // physical index or -1
  int num_physical = 0;
  for (const WindowChunk& ch : c.chunks) {
    ScheduledChunk sc;
    sc.first_token = batch.num_tokens();
    sc.num_tokens = ch.num_tokens;
    sc.num_computed = ch.num_computed;
    sc.policy = WindowPolicy(ch.policy_window, ch.num_sinks);
    const Range range = RangeOf(c.layer_window, sc.policy);
    const int kv_len = ch.num_computed + ch.num_tokens;
    const int first_visible = range.WindowBegin(ch.num_computed);
    const int sinks_end = range.SinksEnd(kv_len - 1);
    std::vector<int> table;
    for (int b = 0; b < (kv_len + bs - 1) / bs; ++b) {
      const bool visible = b * bs < sinks_end || (b + 1) * bs > first_visible;
      table.push_back(visible ? num_physical++ : -1);
    }
    for (int t = 0; t < ch.num_tokens; ++t) batch.token_ids.push_back(0);
    batch.chunks.push_back(sc);
    ranges.push_back(range);
    logical.push_back(table);
  }
  const int total_blocks = num_physical + 2;
  std::vector<int> physical(total_blocks);
  std::iota(physical.begin(), physical.end(), 0);
  std::shuffle(physical.begin(), physical.end(), rng);
  for (size_t i = 0; i < batch.chunks.size(); ++i)
    for (int b : logical[i])
      batch.chunks[i].block_table.push_back(b < 0 ? BlockId{} : BlockId(physical[b]));

  const int n = batch.num_tokens();
  const size_t cache_elems = static_cast<size_t>(total_blocks) * bs * hkv * d;
  std::vector<float> k = RoundToHalf(RandomVector(rng, cache_elems), c.dtype);
  std::vector<float> v = RoundToHalf(RandomVector(rng, cache_elems), c.dtype);
  // NaN in every cache row no query of its chunk may read (and in the unused blocks).
  std::vector<bool> readable(static_cast<size_t>(total_blocks) * bs, false);
  for (size_t i = 0; i < batch.chunks.size(); ++i) {
    const ScheduledChunk& sc = batch.chunks[i];
    const int kv_len = sc.num_computed + sc.num_tokens;
    const int first_visible = ranges[i].WindowBegin(sc.num_computed);
    const int sinks_end = ranges[i].SinksEnd(kv_len - 1);
    for (int j = 0; j < kv_len; ++j)
      if (j < sinks_end || j >= first_visible)
        readable[static_cast<size_t>(sc.block_table[j / bs].value) * bs + j % bs] = true;
  }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (size_t row = 0; row < readable.size(); ++row)
    if (!readable[row])
      for (size_t e = row * hkv * d; e < (row + 1) * hkv * d; ++e) k[e] = v[e] = nan;
  const std::vector<float> q =
      RoundToHalf(RandomVector(rng, static_cast<size_t>(n) * hq * d), c.dtype);
  const std::vector<float> q_sink =
      RoundToHalf(RandomVector(rng, static_cast<size_t>(n) * hq * d), c.dtype);
  DeviceBuffer k_dev = UploadHalf(k, c.dtype), v_dev = UploadHalf(v, c.dtype);
  DeviceBuffer q_dev = UploadHalf(q, c.dtype), q_sink_dev = UploadHalf(q_sink, c.dtype);
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
  config.sliding_window = c.layer_window;
  config.window_policy = true;
  FlashPlan plan;
  const absl::Status built = plan.Build(batch, config, (*cuda)->stream());
  INFO(built.ToString());
  REQUIRE(built.ok());
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  auto bind = [&](FlashParams p) {
    p.q = q_dev.data();
    p.q_sink = q_sink_dev.data();
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

  std::vector<double> ref(out.size(), 0.0);
  for (size_t ci = 0; ci < batch.chunks.size(); ++ci) {
    const ScheduledChunk& sc = batch.chunks[ci];
    for (int t = 0; t < sc.num_tokens; ++t)
      for (int h = 0; h < hq; ++h) {
        const int pos = sc.num_computed + t, kvh = h / group;
        const size_t q_off = ((sc.first_token + t) * static_cast<size_t>(hq) + h) * d;
        std::vector<std::pair<int, const float*>> keys;  // key, query that scores it
        for (int j = 0; j < ranges[ci].SinksEnd(pos); ++j) keys.push_back({j, &q_sink[q_off]});
        for (int j = ranges[ci].WindowBegin(pos); j <= pos; ++j) keys.push_back({j, &q[q_off]});
        std::vector<double> scores(keys.size());
        double mx = -1e300;
        auto row_of = [&](int j) {
          return ((static_cast<size_t>(sc.block_table[j / bs].value) * bs + j % bs) * hkv + kvh) *
                 d;
        };
        for (size_t i = 0; i < keys.size(); ++i) {
          double dot = 0;
          for (int e = 0; e < d; ++e)
            dot += double(keys[i].second[e]) * k[row_of(keys[i].first) + e];
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
  const ErrorStats stats = Compare(out, ref);
  INFO("relative L2 " << stats.relative_l2 << ", max |diff| " << stats.max_abs);
  WARN("[window] kernel: " << c.name << ": relative L2 " << stats.relative_l2 << ", max |diff| "
                           << stats.max_abs);
  CHECK_FALSE(stats.has_nan);
  CHECK(stats.relative_l2 <= 1e-2);
}

TEST_CASE("window flash prefill and decode match float64 (sinks, released blocks, GQA)",
          "[gpu][cuda][window]") {
  if (!HaveGpu()) return;
  std::mt19937 rng(4242);
  const std::vector<WindowCase> cases = {
      {"trained window 37 (not a block multiple), prefill, chunks, decode",
       8, 2, 64, 16, 37, {{1, 100}, {50, 0}, {70, 200}, {1, 20}, {3, 41}}},
      {"policy window 40 + 4 sinks",
       32, 8, 128, 16, 0, {{1, 5000, 40, 4}, {1, 30, 40, 4}, {129, 300, 40, 4}, {200, 0, 40, 4},
                           {2, 777, 40, 4}}},
      {"20 sinks over two blocks, window 64", 4, 4, 16, 16, 0,
       {{1, 1000, 64, 20}, {100, 500, 64, 20}, {65, 0, 64, 20}}},
      {"trained window 48 under policy 100 (min wins) beside a plain chunk", 14, 2, 128, 16, 48,
       {{1, 333, 100, 5}, {90, 90, 100, 5}, {33, 10}}},
      {"split decode over a 4096 window", 32, 8, 128, 16, 0,
       {{1, 20000, 4096, 4}, {1, 9000, 4096, 0}, {1, 3000, 4096, 4}, {1, 4100, 4096, 4}}},
      {"window larger than the context", 8, 1, 64, 32, 0,
       {{17, 0, 4096, 4}, {1, 63, 4096, 4}, {300, 0, 4096, 4}}},
      {"full causal chunk beside a window chunk", 8, 2, 128, 16, 0,
       {{40, 0}, {1, 300, 32, 4}, {129, 0}}},
      {"window 1 (the token alone) with 2 sinks", 4, 2, 64, 16, 0, {{20, 50, 1, 2}, {1, 90, 1, 2}}},
      {"fp16, trained window 37", 8, 2, 64, 16, 37, {{1, 100}, {50, 0}, {70, 200}}, DType::kF16},
      {"no splits", 32, 8, 128, 16, 0, {{1, 20000, 4096, 4}, {2, 700, 300, 3}}, DType::kBF16, 0},
      {"smallest splits", 32, 8, 64, 16, 0, {{1, 20000, 1000, 4}, {2, 700, 300, 3}}, DType::kBF16,
       64},
  };
  for (const WindowCase& c : cases) RunWindowCase(c, rng);
}

TEST_CASE("window plan: released blocks a query sees, and policies a layer refuses, are errors",
          "[gpu][cuda][window]") {
  if (!HaveGpu()) return;
  auto cuda = CudaContext::Default();
  REQUIRE(cuda.ok());
  FlashPlanConfig config;
  config.num_heads = 4;
  config.num_kv_heads = 2;
  config.head_dim = 64;
  config.block_size = 16;
  config.num_blocks = 64;
  config.window_policy = true;
  StepBatch batch;
  ScheduledChunk sc;
  sc.num_tokens = 1;
  sc.num_computed = 100;  // window 20 + 4 sinks: blocks 0 and 5, 6 are read
  sc.policy = WindowPolicy(20, 4);
  for (int b = 0; b < 7; ++b) sc.block_table.push_back(b == 0 || b >= 5 ? BlockId(b) : BlockId{});
  batch.token_ids = {0};
  batch.chunks = {sc};
  FlashPlan plan;
  CHECK(plan.Build(batch, config, (*cuda)->stream()).ok());
  batch.chunks[0].block_table[0] = BlockId{};  // a sink block
  CHECK(absl::IsInvalidArgument(plan.Build(batch, config, (*cuda)->stream())));
  batch.chunks[0].block_table[0] = BlockId(0);
  batch.chunks[0].block_table[5] = BlockId{};  // holds keys 81..95, in the window
  CHECK(absl::IsInvalidArgument(plan.Build(batch, config, (*cuda)->stream())));
  batch.chunks[0].block_table[5] = BlockId(5);
  config.window_policy = false;
  CHECK(absl::IsFailedPrecondition(plan.Build(batch, config, (*cuda)->stream())));
  REQUIRE((*cuda)->SynchronizeStream().ok());
}

// ---------------------------------------------------------------------------------------------
// Layer level: the CUDA layer against the CPU layer on a fixture's weights.

const BackendRegistry& WindowRegistry() { return CudaRegistry(); }

const BackendRegistry& CpuRegistry() {
  static const BackendRegistry* registry = [] {
    auto* r = new BackendRegistry();
    cpu::RegisterCpuBackends(*r);
    return r;
  }();
  return *registry;
}

// One request of a layer scenario: its policy, its progress and its block table, released like
// the scheduler does (engine/runtime/scheduler.cc ReleaseWindowBlocks).
struct LayerRequest {
  AttentionPolicy policy;
  int release_window = 0;  // the scheduler's window (policy's, or the model's); 0 = none
  int num_computed = 0;
  int release_cursor = 0;
  std::vector<BlockId> table;
};

LayerRequest Request(AttentionPolicy policy, int release_window) {
  LayerRequest r;
  r.policy = policy;
  r.release_window = release_window;
  return r;
}

class BlockPool {
 public:
  explicit BlockPool(int num_blocks) {
    for (int b = num_blocks - 1; b >= 0; --b) free_.push_back(b);
  }
  BlockId Take() {
    REQUIRE(!free_.empty());
    const int b = free_.back();
    free_.pop_back();
    return BlockId(b);
  }
  void Give(BlockId b) { free_.insert(free_.begin(), b.value); }  // reused last

 private:
  std::vector<int> free_;
};

struct LayerPair {
  std::unique_ptr<MixerLayer> cpu, gpu;
  int hidden = 0;
};

LayerPair MakeLayers(const std::string& fixture, int layer_index, const std::string& cpu_name,
                     const std::string& gpu_name, const CacheGeometry& cache,
                     std::unique_ptr<ModelSpec>& spec, std::unique_ptr<WeightStore>& weights) {
  const std::string dir = junction::testing::LoadGoldenCase(fixture).model_dir;
  auto loaded = LoadModelSpec(dir);
  INFO(loaded.status().ToString());
  REQUIRE(loaded.ok());
  spec = std::make_unique<ModelSpec>(std::move(*loaded));
  auto store = WeightStore::Open(dir);
  REQUIRE(store.ok());
  weights = std::move(*store);
  REQUIRE(spec->layers[layer_index].mixer.has_value());
  LayerContext context{spec.get(), layer_index, &*spec->layers[layer_index].mixer, weights.get(),
                       cache};
  LayerPair pair;
  pair.hidden = spec->hidden_size;
  const MixerBackend* cpu_backend = CpuRegistry().Find(cpu_name);
  const MixerBackend* gpu_backend = WindowRegistry().Find(gpu_name);
  REQUIRE(cpu_backend != nullptr);
  REQUIRE(gpu_backend != nullptr);
  INFO(gpu_backend->Rejects(*context.mixer, DeviceInfo{DeviceClass::kCuda, 90, ""}));
  REQUIRE(gpu_backend->Rejects(*context.mixer, DeviceInfo{DeviceClass::kCuda, 90, ""}).empty());
  auto cpu_layer = cpu_backend->CreateLayer(context);
  auto gpu_layer = gpu_backend->CreateLayer(context);
  INFO(cpu_layer.status().ToString() << " / " << gpu_layer.status().ToString());
  REQUIRE(cpu_layer.ok());
  REQUIRE(gpu_layer.ok());
  pair.cpu = std::move(*cpu_layer);
  pair.gpu = std::move(*gpu_layer);
  return pair;
}

// A step: tokens per request (0 = not scheduled); jump_to > 0 first moves request 0 to that
// position without computing (its window keys are whatever the cache holds, on both sides).
struct LayerStep {
  std::vector<int> tokens;
  int jump_to = 0;
};

void RunLayerScenario(const std::string& name, LayerPair& layers,
                      std::vector<LayerRequest> requests, const std::vector<LayerStep>& steps,
                      int block_size, BlockPool& pool, std::mt19937& rng) {
  const int hidden = layers.hidden;
  int step_index = 0;
  double worst = 0;
  for (const LayerStep& step : steps) {
    INFO(name << " step " << step_index++);
    if (step.jump_to > 0) {
      LayerRequest& r = requests[0];
      r.num_computed = step.jump_to;
      // Blocks the window of position jump_to cannot see stay unallocated (released), as do
      // the sinks' beyond what is already there.
      const Range range = RangeOf(0, r.policy);
      while (static_cast<int>(r.table.size()) * block_size < step.jump_to) {
        const int b = static_cast<int>(r.table.size());
        const bool visible = (b + 1) * block_size > range.WindowBegin(step.jump_to);
        r.table.push_back(visible ? pool.Take() : BlockId{});
      }
    }
    StepBatch batch;
    for (size_t i = 0; i < requests.size(); ++i) {
      const int n = step.tokens[i];
      if (n == 0) continue;
      LayerRequest& r = requests[i];
      while (static_cast<int>(r.table.size()) * block_size < r.num_computed + n)
        r.table.push_back(pool.Take());
      ScheduledChunk sc;
      sc.first_token = batch.num_tokens();
      sc.num_tokens = n;
      sc.num_computed = r.num_computed;
      sc.block_table = r.table;
      sc.policy = r.policy;
      for (int t = 0; t < n; ++t) batch.token_ids.push_back(0);
      batch.chunks.push_back(sc);
    }
    const int n = batch.num_tokens();
    const std::vector<float> x = RoundToHalf(
        RandomVector(rng, static_cast<size_t>(n) * hidden), DType::kBF16);
    std::vector<float> want(static_cast<size_t>(n) * hidden);
    REQUIRE(layers.cpu->Plan(batch).ok());
    layers.cpu->Run({const_cast<float*>(x.data()), DType::kF32, n, hidden},
                    {want.data(), DType::kF32, n, hidden});
    DeviceBuffer x_dev = UploadHalf(x, DType::kBF16);
    DeviceBuffer y_dev = PoisonedHalf(static_cast<size_t>(n) * hidden);
    const absl::Status planned = layers.gpu->Plan(batch);
    INFO(planned.ToString());
    REQUIRE(planned.ok());
    layers.gpu->Run({x_dev.data(), DType::kBF16, n, hidden},
                    {y_dev.data(), DType::kBF16, n, hidden});
    const std::vector<float> got = DownloadHalf(y_dev, static_cast<size_t>(n) * hidden,
                                                DType::kBF16);
    const ErrorStats stats = Compare(got, std::vector<double>(want.begin(), want.end()));
    INFO("layer output relative L2 " << stats.relative_l2 << ", max |diff| " << stats.max_abs);
    CHECK_FALSE(stats.has_nan);
    CHECK(stats.relative_l2 <= 2e-2);
    worst = std::max(worst, stats.relative_l2);
    // Advance, then release what fell out of the window (never the sinks' blocks).
    for (size_t i = 0; i < requests.size(); ++i) {
      LayerRequest& r = requests[i];
      r.num_computed += step.tokens[i];
      if (r.release_window <= 0) continue;
      const int num_sinks =
          r.policy.mode == AttentionPolicy::Mode::kWindow ? r.policy.num_sinks : 0;
      const int oldest_visible = r.num_computed - r.release_window + 1;
      for (; (r.release_cursor + 1) * block_size <= oldest_visible; ++r.release_cursor) {
        BlockId& block = r.table[r.release_cursor];
        if (r.release_cursor * block_size < num_sinks || !block.valid()) continue;
        pool.Give(block);
        block = BlockId{};
      }
    }
  }
  WARN("[window] layer: " << name << ": " << steps.size() << " steps, worst relative L2 "
                          << worst);
}

std::vector<LayerStep> PrefillThenDecode(std::vector<std::vector<int>> prefill, int decode_steps,
                                         int num_requests) {
  std::vector<LayerStep> steps;
  for (auto& tokens : prefill) steps.push_back({tokens});
  for (int s = 0; s < decode_steps; ++s) steps.push_back({std::vector<int>(num_requests, 1)});
  return steps;
}

TEST_CASE("attention layer with the output gate (qwen3_5_gdn) matches the CPU layer",
          "[gpu][cuda][window]") {
  if (!HaveGpu()) return;
  std::mt19937 rng(11);
  const CacheGeometry cache{16, 96, 0};
  std::unique_ptr<ModelSpec> spec;
  std::unique_ptr<WeightStore> weights;
  int layer = -1;
  {
    auto loaded = LoadModelSpec(junction::testing::LoadGoldenCase("qwen3_5_gdn").model_dir);
    REQUIRE(loaded.ok());
    for (int i = 0; i < static_cast<int>(loaded->layers.size()); ++i)
      if (loaded->layers[i].mixer && loaded->layers[i].mixer->kind == MixerKind::kAttention)
        layer = i;
    REQUIRE(layer >= 0);
    const auto& attention = std::get<AttentionSpec>(loaded->layers[layer].mixer->params);
    REQUIRE(attention.output_gate);
  }
  {
    LayerPair layers = MakeLayers("qwen3_5_gdn", layer, "cpu.flash", "cuda.flash", cache, spec,
                                  weights);
    BlockPool pool(cache.num_blocks);
    RunLayerScenario("gate, full attention", layers, {LayerRequest{}, LayerRequest{}},
                     PrefillThenDecode({{23, 9}, {17, 0}, {40, 31}}, 8, 2), 16, pool, rng);
  }
  {
    // StreamingLLM on the same layer: window 20 + 4 sinks, released blocks, and a jump of one
    // request to position 70000 (float64 RoPE angles, sinks scored from W - 1 + 4 back).
    LayerPair layers = MakeLayers("qwen3_5_gdn", layer, "cpu.flash", "cuda.flash", cache, spec,
                                  weights);
    BlockPool pool(cache.num_blocks);
    const LayerRequest streaming = Request(WindowPolicy(20, 4), 20);
    std::vector<LayerStep> steps = PrefillThenDecode({{20, 9}, {20, 20}}, 6, 2);
    steps.push_back({{16, 1}, 70000});
    for (int s = 0; s < 5; ++s) steps.push_back({{1, 1}});
    RunLayerScenario("gate, window policy", layers, {streaming, LayerRequest{}}, steps, 16, pool,
                     rng);
  }
}

TEST_CASE("window layers (mistral_swa, qwen3_swa) match the CPU layer", "[gpu][cuda][window]") {
  if (!HaveGpu()) return;
  std::mt19937 rng(12);
  const CacheGeometry cache{16, 96, 0};
  for (const auto& [fixture, index] : {std::pair{"mistral_swa", 1}, std::pair{"qwen3_swa", 1}}) {
    std::unique_ptr<ModelSpec> spec;
    std::unique_ptr<WeightStore> weights;
    LayerPair layers =
        MakeLayers(fixture, index, "cpu.window", "cuda.window", cache, spec, weights);
    const int window = std::get<AttentionSpec>(spec->layers[index].mixer->params).sliding_window;
    REQUIRE(window > 0);
    BlockPool pool(cache.num_blocks);
    const LayerRequest trained = Request(AttentionPolicy{}, window);
    RunLayerScenario(std::string(fixture) + " trained window", layers, {trained, trained},
                     PrefillThenDecode({{23, 9}, {17, 0}, {40, 31}}, 20, 2), 16, pool, rng);
    const LayerRequest streaming = Request(WindowPolicy(12, 3), 12);
    RunLayerScenario(std::string(fixture) + " window policy under the trained window", layers,
                     {streaming, trained}, PrefillThenDecode({{30, 5}, {12, 12}}, 24, 2), 16,
                     pool, rng);
  }
  {
    // qwen3_swa's full-attention layer on cuda.flash under a window policy.
    std::unique_ptr<ModelSpec> spec;
    std::unique_ptr<WeightStore> weights;
    LayerPair layers =
        MakeLayers("qwen3_swa", 0, "cpu.flash", "cuda.flash", cache, spec, weights);
    BlockPool pool(cache.num_blocks);
    const LayerRequest streaming = Request(WindowPolicy(33, 2), 33);
    std::vector<LayerStep> steps = PrefillThenDecode({{33, 7}, {33, 1}}, 10, 2);
    steps.push_back({{20, 1}, 40000});
    for (int s = 0; s < 4; ++s) steps.push_back({{1, 1}});
    RunLayerScenario("qwen3_swa full layer, window policy", layers, {streaming, LayerRequest{}},
                     steps, 16, pool, rng);
  }
}

// ---------------------------------------------------------------------------------------------
// Whole fixtures.

TEST_CASE("mistral_swa on the GPU matches the CPU runner", "[gpu][cuda][window]") {
  if (!HaveGpu()) return;
  CheckModelOnGpu("mistral_swa", {{MixerKind::kSlidingWindow, "cuda.window"}}, WindowRegistry());
}

TEST_CASE("qwen3_swa on the GPU matches the CPU runner", "[gpu][cuda][window]") {
  if (!HaveGpu()) return;
  CheckModelOnGpu("qwen3_swa",
                  {{MixerKind::kAttention, "cuda.flash"},
                   {MixerKind::kSlidingWindow, "cuda.window"}},
                  WindowRegistry());
}

}  // namespace
}  // namespace junction::cuda::testing
