// Gated DeltaNet on the GPU (issue #11): chunked prefill of one request of T tokens (the core
// kernels alone, and the whole layer with its projections at hidden 2048) against our flash
// prefill on the same tokens and heads (16 heads, d = 64 and 128; target: faster from 4k up),
// and the decode step's bandwidth on the fp32 state bytes it must move (read + write) against
// the device copy bandwidth. Timings: CUDA events, warm-up, median. `--quick`: fewer shapes.
#ifdef JUNCTION_WITH_CUDA

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/cuda_backends.h"
#include "backends/cuda/gated_deltanet_layer.h"
#include "backends/cuda/kernels/gated_deltanet_kernels.h"
#include "bench/bench_registry.h"
#include "bench/cuda_bench_util.h"

namespace junction::cuda {
namespace {

constexpr int kHeads = 16;

// Replicates a host tile over `count` elements of a device buffer. False on failure.
template <typename T>
bool FillTiled(void* dst, const std::vector<T>& tile, size_t count) {
  for (size_t done = 0; done < count; done += tile.size()) {
    const size_t n = std::min(tile.size(), count - done);
    if (cudaMemcpy(static_cast<T*>(dst) + done, tile.data(), n * sizeof(T),
                   cudaMemcpyHostToDevice) != cudaSuccess)
      return false;
  }
  return cudaDeviceSynchronize() == cudaSuccess;
}

// Device inputs of the core for `num_tokens` rows: l2-normalized q (scaled) and k, and v, in
// bf16 (prefill) and float32 (decode); g in [-0.5, -0.01], beta in (0, 1).
struct CoreData {
  DeviceBuffer q, k, v, g, beta, state, w, u, gamma, h, o, ready, lists;
  DeviceBuffer q32, k32, v32;
};

std::vector<float> Bf16ToFloat(const std::vector<uint16_t>& bits) {
  std::vector<float> out(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) {
    const uint32_t word = uint32_t{bits[i]} << 16;
    std::memcpy(&out[i], &word, sizeof(float));
  }
  return out;
}

bool MakeCoreData(const GdnDims& d, int num_tokens, int num_chunks, int num_slots, CoreData& c) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> decay(-0.5f, -0.01f);
  const int dk = d.head_k_dim;
  std::vector<uint16_t> qt(size_t{1} << 20), kt(qt.size()), vt(qt.size());
  for (size_t row = 0; row < qt.size() / dk; ++row) {
    for (auto* tile : {&qt, &kt}) {
      std::vector<float> x(dk);
      double ss = 0;
      for (float& e : x) {
        e = normal(rng);
        ss += double(e) * e;
      }
      const float inv = 1.0f / std::sqrt(float(ss)) / (tile == &qt ? std::sqrt(float(dk)) : 1.0f);
      for (int i = 0; i < dk; ++i) (*tile)[row * dk + i] = FloatToBF16(x[i] * inv);
    }
  }
  for (auto& e : vt) e = FloatToBF16(normal(rng));
  std::vector<float> gt(size_t{1} << 16), bt(gt.size());
  for (size_t i = 0; i < gt.size(); ++i) {
    gt[i] = decay(rng);
    bt[i] = 1.0f / (1.0f + std::exp(-normal(rng)));
  }
  const size_t t = num_tokens, hv = d.num_value_heads;
  const size_t qk = t * d.num_key_heads * dk, vv = t * hv * d.head_v_dim;
  const size_t chunks = std::max(num_chunks, 1);
  const size_t sizes[] = {qk * 2, qk * 2, vv * 2, t * hv * 4, t * hv * 4,
                          size_t(num_slots) * hv * dk * d.head_v_dim * 4, t * hv * dk * 2, vv * 2,
                          chunks * hv * kGdnChunk * 4, chunks * hv * dk * d.head_v_dim * 2, vv * 2,
                          2 * chunks * hv * 4};
  DeviceBuffer* buffers[] = {&c.q, &c.k, &c.v, &c.g, &c.beta, &c.state, &c.w,
                             &c.u, &c.gamma, &c.h, &c.o, &c.ready};
  for (int i = 0; i < 12; ++i) {
    auto b = DeviceBuffer::Allocate(sizes[i]);
    if (!b.ok()) return false;
    *buffers[i] = std::move(*b);
  }
  if (cudaMemset(c.state.data(), 0, sizes[5]) != cudaSuccess) return false;
  auto q32 = DeviceBuffer::Allocate(qk * 4), k32 = DeviceBuffer::Allocate(qk * 4);
  auto v32 = DeviceBuffer::Allocate(vv * 4);
  if (!q32.ok() || !k32.ok() || !v32.ok()) return false;
  c.q32 = std::move(*q32);
  c.k32 = std::move(*k32);
  c.v32 = std::move(*v32);
  return FillTiled(c.q.data(), qt, qk) && FillTiled(c.k.data(), kt, qk) &&
         FillTiled(c.v.data(), vt, vv) && FillTiled(c.g.data(), gt, t * hv) &&
         FillTiled(c.beta.data(), bt, t * hv) && FillTiled(c.q32.data(), Bf16ToFloat(qt), qk) &&
         FillTiled(c.k32.data(), Bf16ToFloat(kt), qk) &&
         FillTiled(c.v32.data(), Bf16ToFloat(vt), vv);
}

// Core params over `c` with the work lists of `requests` uploaded into c.lists.
bool BindCore(const GdnDims& d, const std::vector<GdnRequest>& requests, int num_tokens,
              CudaContext& cuda, CoreData& c, GdnCoreParams& p) {
  const GdnWork work = BuildGdnWork(requests, num_tokens);
  auto pad = [](size_t bytes) { return (bytes + 15) / 16 * 16; };
  const size_t prefill = 0;
  const size_t decode = prefill + pad(work.prefill.size() * sizeof(GdnRequest));
  const size_t chunks = decode + pad(work.decode.size() * sizeof(GdnRequest));
  std::vector<char> host(chunks + pad(work.chunks.size() * sizeof(GdnChunk)) + 16);
  std::memcpy(host.data() + prefill, work.prefill.data(), work.prefill.size() * sizeof(GdnRequest));
  std::memcpy(host.data() + decode, work.decode.data(), work.decode.size() * sizeof(GdnRequest));
  std::memcpy(host.data() + chunks, work.chunks.data(), work.chunks.size() * sizeof(GdnChunk));
  auto lists = DeviceBuffer::Allocate(host.size() + 16);
  if (!lists.ok()) return false;
  c.lists = std::move(*lists);
  if (cudaMemcpy(c.lists.data(), host.data(), host.size(), cudaMemcpyHostToDevice) != cudaSuccess)
    return false;
  p.dims = d;
  p.q = c.q.data();
  p.k = c.k.data();
  p.v = c.v.data();
  p.q_f32 = c.q32.as<float>();
  p.k_f32 = c.k32.as<float>();
  p.v_f32 = c.v32.as<float>();
  p.qk_stride = int64_t{d.num_key_heads} * d.head_k_dim;
  p.v_stride = int64_t{d.num_value_heads} * d.head_v_dim;
  p.g = c.g.as<float>();
  p.beta = c.beta.as<float>();
  p.state = c.state.as<float>();
  p.prefill = reinterpret_cast<const GdnRequest*>(c.lists.as<char>() + prefill);
  p.num_prefill = static_cast<int>(work.prefill.size());
  p.decode = reinterpret_cast<const GdnRequest*>(c.lists.as<char>() + decode);
  p.num_decode = static_cast<int>(work.decode.size());
  p.chunks = reinterpret_cast<const GdnChunk*>(c.lists.as<char>() + chunks);
  p.num_chunks = static_cast<int>(work.chunks.size());
  p.w = c.w.data();
  p.u = c.u.data();
  p.gamma = c.gamma.as<float>();
  p.h = c.h.data();
  p.ready = c.ready.as<int32_t>();
  p.num_sms = cuda.num_sms();
  p.o = c.o.data();
  return cudaDeviceSynchronize() == cudaSuccess;
}

// Core prefill of one fresh request of `tokens` tokens (median ms; negative on failure), the
// state pass in `state_tile`-column tiles (0: the launcher's choice), the passes overlapping (1),
// one after another (0) or as the launcher chooses (-1).
float TimeCorePrefill(CudaContext& cuda, int d, int tokens, int state_tile = 0, int overlap = -1) {
  const GdnDims dims{kHeads, kHeads, d, d};
  CoreData c;
  const int chunks = (tokens + kGdnChunk - 1) / kGdnChunk;
  GdnCoreParams p;
  if (!MakeCoreData(dims, tokens, chunks, 1, c) ||
      !BindCore(dims, {{0, tokens, 0, 1}}, tokens, cuda, c, p))
    return -1;
  p.state_tile = state_tile;
  p.overlap_passes = overlap;
  const float ms = MedianMs(cuda, [&] { LaunchGdnPrefill(p, cuda.stream()); }, 10);
  return cudaGetLastError() == cudaSuccess ? ms : -1;
}

// The whole layer (Qwen3.5 layout, gate, conv 4, hidden 2048) over one fresh request.
float TimeLayerPrefill(CudaContext& cuda, int d, int tokens) {
  const int hidden = 2048;
  GatedDeltaNetSpec spec;
  spec.num_key_heads = spec.num_value_heads = kHeads;
  spec.head_k_dim = spec.head_v_dim = d;
  spec.fused_qkv = true;
  const int64_t conv_dim = 3 * kHeads * d, vd = kHeads * d;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  auto random = [&](std::vector<int64_t> shape, float scale) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    std::vector<float> v(n);
    for (float& x : v) x = normal(rng) * scale;
    return std::pair{shape, std::move(v)};
  };
  const float ws = 1.0f / std::sqrt(float(hidden));
  auto store = WeightStore::FromFloatTensors({
      {"l.in_proj_qkv.weight", random({conv_dim, hidden}, ws)},
      {"l.conv1d.weight", random({conv_dim, 1, 4}, 0.5f)},
      {"l.in_proj_z.weight", random({vd, hidden}, ws)},
      {"l.in_proj_a.weight", random({kHeads, hidden}, ws)},
      {"l.in_proj_b.weight", random({kHeads, hidden}, ws)},
      {"l.norm.weight", random({d}, 0.1f)},
      {"l.out_proj.weight", random({hidden, vd}, 1.0f / std::sqrt(float(vd)))},
      {"l.A_log", random({kHeads}, 0.5f)},
      {"l.dt_bias", random({kHeads}, 0.5f)},
  });
  ModelSpec model;
  model.hidden_size = hidden;
  MixerSpec mixer;
  mixer.kind = MixerKind::kGatedDeltaNet;
  mixer.params = spec;
  mixer.weight_prefix = "l.";
  CacheGeometry cache;
  cache.num_state_slots = 1;
  auto layer = MakeCudaGatedDeltaNetBackend()->CreateLayer({&model, 0, &mixer, store.get(), cache});
  if (!layer.ok()) return -1;
  StepBatch batch;
  ScheduledChunk chunk;
  chunk.num_tokens = tokens;
  chunk.state_slot = StateSlotId(0);
  batch.chunks.push_back(chunk);
  batch.token_ids.assign(tokens, 0);
  auto x = DeviceBuffer::Allocate(size_t(tokens) * hidden * 2);
  auto y = DeviceBuffer::Allocate(size_t(tokens) * hidden * 2);
  if (!x.ok() || !y.ok() || !FillRandom(x->data(), size_t(tokens) * hidden, 5)) return -1;
  if (!(*layer)->Plan(batch).ok()) return -1;
  const Activations in{x->data(), DType::kBF16, tokens, hidden};
  const Activations out{y->data(), DType::kBF16, tokens, hidden};
  const float ms = MedianMs(cuda, [&] { (*layer)->Run(in, out); }, 10);
  return cudaGetLastError() == cudaSuccess ? ms : -1;
}

// One decode step of `batch` requests (median ms) and its state bytes (read + write). `gated`:
// with the output norm and gate as the layer runs it (the norm spans the dv tiles).
float TimeDecode(CudaContext& cuda, int d, int batch, bool gated, double* bytes) {
  const GdnDims dims{kHeads, kHeads, d, d};
  CoreData c;
  std::vector<GdnRequest> requests;
  for (int b = 0; b < batch; ++b) requests.push_back({b, 1, b, 0});
  GdnCoreParams p;
  if (!MakeCoreData(dims, batch, 1, batch, c) || !BindCore(dims, requests, batch, cuda, c, p))
    return -1;
  DeviceBuffer norm, raw, count;
  if (gated) {
    auto n = DeviceBuffer::Allocate(d * sizeof(float));
    auto r = DeviceBuffer::Allocate(size_t(batch) * kHeads * d * sizeof(float));
    auto k = DeviceBuffer::Allocate(size_t(batch) * kHeads * sizeof(int32_t));
    if (!n.ok() || !r.ok() || !k.ok()) return -1;
    norm = std::move(*n);
    raw = std::move(*r);
    count = std::move(*k);
    if (!FillTiled(norm.data(), std::vector<float>(d, 1.0f), d) ||
        cudaMemset(count.data(), 0, count.size_bytes()) != cudaSuccess)
      return -1;
    p.norm_weight = norm.as<float>();
    p.decode_o = raw.as<float>();
    p.decode_count = count.as<int32_t>();
    p.gate = c.v32.as<float>();  // any float32 rows of the value width
    p.gate_stride = p.v_stride;
  }
  *bytes = 2.0 * batch * kHeads * d * d * sizeof(float);
  const float ms = MedianMs(cuda, [&] { LaunchGdnDecode(p, cuda.stream()); }, 50);
  return cudaGetLastError() == cudaSuccess ? ms : -1;
}

}  // namespace
}  // namespace junction::cuda

JUNCTION_BENCHMARK(cuda_gated_deltanet,
                   "Gated DeltaNet: chunked prefill (core, layer) vs our flash prefill, 16 heads, "
                   "d=64/128, 1k-32k tokens; decode state bandwidth vs copy [--quick]") {
  using namespace junction::cuda;
  CudaContext* cuda = BenchContext();
  if (cuda == nullptr) return 1;
  bool quick = false;
  for (const std::string& a : args) quick |= a == "--quick";
  FILE* out = OpenOut(args);
  char line[320];
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  const double copy = CopyTbps(*cuda);
  if (copy < 0) return 1;
  std::snprintf(line, sizeof(line), "device %s, copy %.2f TB/s (read+write)\n", prop.name, copy);
  Emit(out, line);
  const std::vector<int> lengths =
      quick ? std::vector<int>{1024, 4096} : std::vector<int>{1024, 4096, 16384, 32768};
  for (int d : {64, 128}) {
    for (int tokens : lengths) {
      const float core = TimeCorePrefill(*cuda, d, tokens);
      const float core_wide = TimeCorePrefill(*cuda, d, tokens, 32);
      const float core_serial = TimeCorePrefill(*cuda, d, tokens, 0, 0);
      const float core_overlap = TimeCorePrefill(*cuda, d, tokens, 0, 1);
      const float layer = TimeLayerPrefill(*cuda, d, tokens);
      float flash = 0;
      AttentionSetup s{1, tokens, tokens, kHeads, kHeads, d};
      if (core < 0 || core_wide < 0 || core_serial < 0 || core_overlap < 0 || layer < 0 ||
          TimeAttention(*cuda, s, &flash) != 0)
        return 1;
      std::snprintf(line, sizeof(line),
                    "gdn prefill d=%d heads=%d tokens=%d core_ms=%.3f layer_ms=%.3f flash_ms=%.3f "
                    "core/flash=%.2f layer/flash=%.2f (core_ms with the passes in turn %.3f, "
                    "overlapped %.3f; state in 32-column tiles %.3f)\n",
                    d, kHeads, tokens, core, layer, flash, core / flash, layer / flash, core_serial,
                    core_overlap, core_wide);
      Emit(out, line);
    }
  }
  const std::vector<int> batches =
      quick ? std::vector<int>{16, 64, 256} : std::vector<int>{1, 16, 64, 256};
  for (int d : {64, 128}) {
    for (int batch : batches) {
      for (bool gated : {false, true}) {
        double bytes = 0;
        const float ms = TimeDecode(*cuda, d, batch, gated, &bytes);
        if (ms < 0) return 1;
        const double tbps = bytes / ms / 1e9;
        std::snprintf(line, sizeof(line),
                      "gdn decode d=%d heads=%d batch=%d %s ms=%.4f state_MB=%.1f tbps=%.2f "
                      "of_copy=%.2f\n",
                      d, kHeads, batch, gated ? "norm+gate" : "raw", ms, bytes / 1e6, tbps,
                      tbps / copy);
        Emit(out, line);
      }
    }
  }
  if (out) std::fclose(out);
  return 0;
}

#endif  // JUNCTION_WITH_CUDA
