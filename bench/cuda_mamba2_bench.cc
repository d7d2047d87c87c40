// CUDA Mamba2 benchmark (issue #11): chunked SSD prefill (the scan kernel alone and the whole
// layer: in_proj, conv, scan, gated norm, out_proj) against our flash prefill on the same token
// count and the same inner width (heads x head_dim = nh x P, head_dim 64 and 128); and the
// batched decode step's achieved bandwidth on the state bytes it must move (fp32 [P, N] per head,
// read + write) against the device copy bandwidth. CUDA events, warm-up, median.
// usage: junction-bench cuda_mamba2 [--quick] [--out FILE]
#ifdef JUNCTION_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/kernels/mamba2_kernels.h"
#include "backends/cuda/mamba2_layer.h"
#include "backends/cuda/random_weights.h"
#include "bench/bench_registry.h"
#include "bench/cuda_bench_util.h"

namespace junction::cuda {
namespace {

struct Mamba2Shape {
  int hidden, num_heads, head_dim, state_size, num_groups;
  int inner() const { return num_heads * head_dim; }
  int conv_dim() const { return inner() + 2 * num_groups * state_size; }
};

template <typename T>
const T* UploadVec(std::vector<DeviceBuffer>& keep, const std::vector<T>& v) {
  auto b = DeviceBuffer::Allocate(v.size() * sizeof(T) + 16);
  if (!b.ok()) return nullptr;
  cudaMemcpy(b->data(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice);
  const T* out = static_cast<const T*>(b->data());
  keep.push_back(std::move(*b));
  return out;
}

// Kernel-only inputs of one shape for `num_tokens` tokens and `num_slots` state slots.
struct SsdInputs {
  std::vector<DeviceBuffer> keep;
  Mamba2SsdParams params;

  bool Init(const Mamba2Shape& s, int num_tokens, int num_slots) {
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> dt_bias(s.num_heads), a(s.num_heads), d(s.num_heads, 1.0f);
    for (int h = 0; h < s.num_heads; ++h) {
      dt_bias[h] = std::log(std::expm1(std::exp(std::log(1e-3f) + u(rng) * std::log(100.0f))));
      a[h] = -std::exp(u(rng) * std::log(16.0f));
    }
    std::normal_distribution<float> n01;
    std::vector<float> dt(size_t(num_tokens) * s.num_heads);
    for (float& v : dt) v = n01(rng);
    auto xbc = DeviceBuffer::Allocate(size_t(num_tokens) * s.conv_dim() * 2);
    auto y = DeviceBuffer::Allocate(size_t(num_tokens) * s.inner() * 4);
    auto state =
        DeviceBuffer::Allocate(size_t(num_slots) * s.num_heads * s.head_dim * s.state_size * 4);
    if (!xbc.ok() || !y.ok() || !state.ok()) return false;
    if (!FillRandom(xbc->data(), size_t(num_tokens) * s.conv_dim(), 3)) return false;
    cudaMemset(state->data(), 0, state->size_bytes());
    Mamba2SsdParams& p = params;
    p.xbc = xbc->data();
    p.xbc_stride = s.conv_dim();
    p.dt = UploadVec(keep, dt);
    p.dt_stride = s.num_heads;
    p.dt_bias = UploadVec(keep, dt_bias);
    p.a = UploadVec(keep, a);
    p.d = UploadVec(keep, d);
    p.dt_min = 0.0f;
    p.dt_max = INFINITY;
    p.ssm_state = state->as<float>();
    p.y = y->as<float>();
    p.num_heads = s.num_heads;
    p.head_dim = s.head_dim;
    p.state_size = s.state_size;
    p.num_groups = s.num_groups;
    keep.push_back(std::move(*xbc));
    keep.push_back(std::move(*y));
    keep.push_back(std::move(*state));
    return cudaDeviceSynchronize() == cudaSuccess;
  }
};

// A whole layer on random weights; `Time` plans `batch` once and times Run.
struct LayerBench {
  ModelSpec model;
  MixerSpec mixer;
  std::shared_ptr<const WeightStore> weights = MakeRandomWeightSource(1);
  std::unique_ptr<CudaMamba2Layer> layer;

  bool Init(const Mamba2Shape& s, int num_slots, CudaContext* cuda) {
    model.hidden_size = s.hidden;
    Mamba2Spec spec;
    spec.num_heads = s.num_heads;
    spec.head_dim = s.head_dim;
    spec.state_size = s.state_size;
    spec.num_groups = s.num_groups;
    spec.inner_size = s.inner();
    spec.norm_per_group = s.num_groups > 1;
    spec.dt_max = INFINITY;
    mixer = MixerSpec{MixerKind::kMamba2, spec, "m."};
    LayerContext context{&model, 0, &mixer, weights.get(), {16, 0, num_slots}};
    auto created = CudaMamba2Layer::Create(context, cuda);
    if (!created.ok()) {
      std::fprintf(stderr, "%s\n", created.status().ToString().c_str());
      return false;
    }
    layer = std::move(*created);
    return true;
  }

  float Time(CudaContext& cuda, const StepBatch& batch, int reps) {
    const int n = batch.num_tokens();
    auto in = DeviceBuffer::Allocate(size_t(n) * model.hidden_size * 2);
    auto out = DeviceBuffer::Allocate(size_t(n) * model.hidden_size * 2);
    if (!in.ok() || !out.ok() || !FillRandom(in->data(), size_t(n) * model.hidden_size, 4))
      return -1;
    if (!layer->Plan(batch).ok()) return -1;
    return MedianMs(
        cuda,
        [&] {
          layer->Run({in->data(), DType::kBF16, n, model.hidden_size},
                     {out->data(), DType::kBF16, n, model.hidden_size});
        },
        reps);
  }
};

StepBatch MakeBatch(int num_requests, int tokens_each, int num_computed) {
  StepBatch batch;
  for (int r = 0; r < num_requests; ++r) {
    ScheduledChunk c;
    c.request = RequestId(r);
    c.first_token = r * tokens_each;
    c.num_tokens = tokens_each;
    c.num_computed = num_computed;
    c.state_slot = StateSlotId(r);
    batch.chunks.push_back(c);
  }
  batch.token_ids.assign(size_t(num_requests) * tokens_each, 0);
  return batch;
}

int RunPrefill(CudaContext& cuda, const Mamba2Shape& s, const std::vector<int>& token_counts,
               FILE* out) {
  char line[768];
  LayerBench layer;
  if (!layer.Init(s, 1, &cuda)) return 1;
  for (int t : token_counts) {
    SsdInputs in;
    if (!in.Init(s, t, 1)) return 1;
    std::vector<DeviceBuffer> keep;
    const std::vector<Mamba2ScanItem> items = {{0, t, 0, 1}};
    Mamba2SsdParams p = in.params;
    p.items = UploadVec(keep, items);
    p.num_items = 1;
    const float seq_ms = MedianMs(
        cuda, [&] { LaunchMamba2ChunkScan(p, cuda.num_sms(), cuda.stream()); }, 20);
    std::vector<Mamba2ScanItem> par_items = items;
    const std::vector<Mamba2ChunkItem> chunks = BuildMamba2Chunks(par_items);
    Mamba2SsdParams pp = in.params;
    pp.items = UploadVec(keep, par_items);
    pp.num_items = 1;
    pp.chunks = UploadVec(keep, chunks);
    pp.num_chunks = static_cast<int>(chunks.size());
    auto workspace = DeviceBuffer::Allocate(
        Mamba2ChunkWorkspaceBytes(pp.num_chunks, s.num_heads, s.head_dim, s.state_size));
    if (!workspace.ok()) return 1;
    SetMamba2ChunkWorkspace(pp, workspace->data());
    const float par_ms = MedianMs(
        cuda, [&] { LaunchMamba2ParallelScan(pp, cuda.stream()); }, 20);
    const float scan_ms = std::min(seq_ms, par_ms);
    const float layer_seq_ms = layer.Time(cuda, MakeBatch(1, t, 0), 10);
    layer.layer->set_parallel_scan_min_tokens(1);
    const float layer_par_ms = layer.Time(cuda, MakeBatch(1, t, 0), 10);
    layer.layer->set_parallel_scan_min_tokens(std::numeric_limits<int>::max());
    const float layer_ms = std::min(layer_seq_ms, layer_par_ms);
    float flash64 = 0, flash128 = 0;
    if (TimeAttention(cuda, {1, t, t, s.inner() / 64, s.inner() / 64, 64}, &flash64) != 0 ||
        TimeAttention(cuda, {1, t, t, s.inner() / 128, s.inner() / 128, 128}, &flash128) != 0 ||
        layer_seq_ms < 0 || layer_par_ms < 0 || cudaGetLastError() != cudaSuccess)
      return 1;
    // Scan FLOPs per chunk and head (tensor-core work actually issued, P-block redundancy aside).
    const double num_chunks = std::ceil(t / 64.0);
    const double flops = num_chunks * s.num_heads *
                         (2.0 * 64 * 64 * s.state_size / 2 + 2.0 * 64 * 64 * s.head_dim / 2 +
                          2.0 * 64 * s.state_size * s.head_dim * 2);
    std::snprintf(line, sizeof(line),
                  "prefill hidden=%d nh=%d P=%d N=%d G=%d tokens=%d: scan sequential %.3f ms, "
                  "parallel %.3f ms (best %.1f TFLOP/s); layer sequential %.3f ms, parallel %.3f "
                  "ms | flash d=64 x%d heads %.3f ms, d=128 x%d heads %.3f ms | flash/best scan "
                  "%.2fx (d64) %.2fx (d128), flash/best layer %.2fx (d64) %.2fx (d128)\n",
                  s.hidden, s.num_heads, s.head_dim, s.state_size, s.num_groups, t, seq_ms, par_ms,
                  flops / scan_ms / 1e9, layer_seq_ms, layer_par_ms, s.inner() / 64, flash64,
                  s.inner() / 128, flash128, flash64 / scan_ms, flash128 / scan_ms,
                  flash64 / layer_ms, flash128 / layer_ms);
    Emit(out, line);
  }
  return 0;
}

int RunDecode(CudaContext& cuda, const Mamba2Shape& s, const std::vector<int>& batches,
              double copy_tbps, FILE* out) {
  char line[768];
  int max_batch = 0;
  for (int b : batches) max_batch = std::max(max_batch, b);
  LayerBench layer;
  if (!layer.Init(s, max_batch, &cuda)) return 1;
  SsdInputs in;
  if (!in.Init(s, max_batch, max_batch)) return 1;
  for (int b : batches) {
    std::vector<DeviceBuffer> keep;
    std::vector<Mamba2ScanItem> items;
    for (int r = 0; r < b; ++r) items.push_back({r, 1, r, 0});
    Mamba2SsdParams p = in.params;
    p.items = UploadVec(keep, items);
    p.num_items = b;
    const float step_ms = MedianMs(
        cuda, [&] { LaunchMamba2DecodeStep(p, cuda.stream()); }, 50);
    const float layer_ms = layer.Time(cuda, MakeBatch(b, 1, 16), 20);
    if (layer_ms < 0 || cudaGetLastError() != cudaSuccess) return 1;
    const double state_bytes = 2.0 * b * s.num_heads * s.head_dim * s.state_size * 4;
    const double tbps = state_bytes / step_ms / 1e9;
    std::snprintf(line, sizeof(line),
                  "decode hidden=%d nh=%d P=%d N=%d G=%d batch=%d: step %.4f ms, state %.1f MB "
                  "r+w, %.2f TB/s = %.0f%% of copy %.2f TB/s | layer %.4f ms\n",
                  s.hidden, s.num_heads, s.head_dim, s.state_size, s.num_groups, b, step_ms,
                  state_bytes / 1e6, tbps, 100.0 * tbps / copy_tbps, copy_tbps, layer_ms);
    Emit(out, line);
  }
  return 0;
}

}  // namespace
}  // namespace junction::cuda

JUNCTION_BENCHMARK(cuda_mamba2,
                   "Mamba2 SSD prefill (scan, layer) vs flash prefill at 1k-32k tokens; decode "
                   "state TB/s vs copy (--quick: fewer shapes)") {
  using namespace junction::cuda;
  CudaContext* cuda = BenchContext();
  if (cuda == nullptr) return 1;
  bool quick = false;
  for (const std::string& a : args) quick |= a == "--quick";
  FILE* out = OpenOut(args);
  char line[256];
  const double copy = CopyTbps(*cuda);
  if (copy < 0) return 1;
  std::snprintf(line, sizeof(line), "device %s, copy %.2f TB/s (read+write)\n",
                cuda->device().name.c_str(), copy);
  Emit(out, line);
  const Mamba2Shape small{2048, 64, 64, 128, 1};   // I = 4096 (Mamba2-2.7B-like)
  const Mamba2Shape large{4096, 128, 64, 128, 8};  // I = 8192 (NemotronH-8B-like)
  std::vector<Mamba2Shape> shapes = {small};
  if (!quick) shapes.push_back(large);
  const std::vector<int> tokens = quick ? std::vector<int>{1024, 4096, 16384}
                                        : std::vector<int>{1024, 2048, 4096, 8192, 16384, 32768};
  const std::vector<int> batches =
      quick ? std::vector<int>{1, 64} : std::vector<int>{1, 16, 64, 256};
  int status = 0;
  for (const Mamba2Shape& s : shapes) {
    status |= RunPrefill(*cuda, s, tokens, out);
    status |= RunDecode(*cuda, s, batches, copy, out);
  }
  if (out) std::fclose(out);
  return status;
}

#endif  // JUNCTION_WITH_CUDA
