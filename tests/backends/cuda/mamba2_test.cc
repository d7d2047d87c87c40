// "cuda.mamba2" against float64 references: the SSD scan and decode kernels (awkward lengths,
// several requests per step, prefill continued from a state, decode after prefill; outputs and
// fp32 states), the conv kernel (windows across steps), the gated norm, the whole layer against
// the float64 token recurrence, and the Mamba2 fixtures through the CUDA runner.
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "backends/cuda/cuda_context.h"
#include "backends/cuda/kernels/mamba2_kernels.h"
#include "backends/cuda/mamba2_layer.h"
#include "tests/backends/cuda/fixture_check.h"
#include "tests/reference/mamba2_reference.h"

namespace junction::cuda::testing {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> Uniform(std::mt19937& rng, size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> out(n);
  for (float& v : out) v = u(rng);
  return out;
}

double Softplus(double x) { return x > 20.0 ? x : std::log1p(std::exp(x)); }

// ---------------------------------------------------------------------------------------------
// SSD kernels: several requests advance over steps; each step runs the chunk scan on every piece
// longer than one token (or on all of them) and the decode kernel on single tokens.

struct SsdShape {
  int num_heads, head_dim, state_size, num_groups;
  float dt_max;
};

struct SsdRequest {
  std::vector<int> pieces;  // tokens per step (the last ones 1: decode)
  int slot = 0;
  std::vector<double> state;  // float64 reference state [nh, P, N]
};

// Scan kernels under test: the one-launch sequential scan (P blocks of 32 rows with num_sms 1,
// of 16 rows with a huge num_sms) or the chunk-parallel scan.
enum class ScanKind { kSequential32, kSequential16, kParallel };

void RunSsdCase(const SsdShape& c, std::vector<SsdRequest> requests, ScanKind kind,
                bool scan_decode_tokens, std::mt19937& rng) {
  const int num_sms = kind == ScanKind::kSequential32 ? 1 : 1 << 20;
  const int nh = c.num_heads, P = c.head_dim, N = c.state_size, G = c.num_groups;
  const int inner = nh * P, conv_dim = inner + 2 * G * N, heads_per_group = nh / G;
  std::ostringstream what;
  what << "nh " << nh << " P " << P << " N " << N << " G " << G << " dt_max " << c.dt_max
       << " scan kind " << static_cast<int>(kind) << " scan_decode " << scan_decode_tokens
       << " pieces:";
  for (const SsdRequest& r : requests) {
    what << " [";
    for (int p : r.pieces) what << p << " ";
    what << "]";
  }
  INFO(what.str());
  const int num_slots = static_cast<int>(requests.size()) + 1;
  const std::vector<float> dt_bias = Uniform(rng, nh, -4.0f, -1.0f);
  std::vector<float> a(nh), d = Uniform(rng, nh, 0.5f, 1.5f);
  for (float& v : a) v = -std::exp(std::uniform_real_distribution<float>(0.0f, 2.7f)(rng));
  DeviceBuffer dt_bias_dev = UploadRaw(dt_bias), a_dev = UploadRaw(a), d_dev = UploadRaw(d);
  const size_t head_state = size_t(P) * N, slot_state = nh * head_state;
  DeviceBuffer state_dev = UploadRaw(RandomVector(rng, num_slots * slot_state));  // garbage
  for (SsdRequest& r : requests) r.state.assign(slot_state, 0.0);
  auto cuda = CudaContext::Default();
  REQUIRE(cuda.ok());
  const cudaStream_t stream = (*cuda)->stream();

  double worst_y = 0;
  for (size_t step = 0;; ++step) {
    std::vector<Mamba2ScanItem> scan, decode;
    std::vector<std::pair<int, int>> owners;  // (request, first token in the step)
    int num_tokens = 0;
    for (size_t i = 0; i < requests.size(); ++i) {
      if (step >= requests[i].pieces.size()) continue;
      const int len = requests[i].pieces[step];
      Mamba2ScanItem item{num_tokens, len, requests[i].slot, step == 0 ? 1 : 0};
      (len == 1 && !scan_decode_tokens ? decode : scan).push_back(item);
      owners.push_back({static_cast<int>(i), num_tokens});
      num_tokens += len;
    }
    if (owners.empty()) break;
    const std::vector<float> xbc =
        RoundToHalf(RandomVector(rng, size_t(num_tokens) * conv_dim), DType::kBF16);
    const std::vector<float> dt_raw = RandomVector(rng, size_t(num_tokens) * nh);
    DeviceBuffer xbc_dev = UploadHalf(xbc, DType::kBF16), dt_dev = UploadRaw(dt_raw);
    auto y_dev = DeviceBuffer::Allocate(size_t(num_tokens) * inner * 4);
    REQUIRE(y_dev.ok());
    REQUIRE(cudaMemset(y_dev->data(), 0xff, size_t(num_tokens) * inner * 4) == cudaSuccess);
    const std::vector<Mamba2ChunkItem> chunks = BuildMamba2Chunks(scan);
    DeviceBuffer scan_dev = UploadRaw(scan), decode_dev = UploadRaw(decode);
    DeviceBuffer chunks_dev = UploadRaw(chunks);
    auto workspace = DeviceBuffer::Allocate(
        Mamba2ChunkWorkspaceBytes(static_cast<int>(chunks.size()), nh, P, N) + 256);
    REQUIRE(workspace.ok());
    REQUIRE(cudaMemset(workspace->data(), 0xff, workspace->size_bytes()) == cudaSuccess);
    Mamba2SsdParams p;
    p.xbc = xbc_dev.data();
    p.xbc_stride = conv_dim;
    p.dt = dt_dev.as<float>();
    p.dt_stride = nh;
    p.dt_bias = dt_bias_dev.as<float>();
    p.a = a_dev.as<float>();
    p.d = d_dev.as<float>();
    p.dt_min = 0.0f;
    p.dt_max = c.dt_max;
    p.ssm_state = state_dev.as<float>();
    p.y = y_dev->as<float>();
    p.num_heads = nh;
    p.head_dim = P;
    p.state_size = N;
    p.num_groups = G;
    Mamba2SsdParams ps = p, pd = p;
    ps.items = scan_dev.as<Mamba2ScanItem>();
    ps.num_items = static_cast<int>(scan.size());
    pd.items = decode_dev.as<Mamba2ScanItem>();
    pd.num_items = static_cast<int>(decode.size());
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    if (kind == ScanKind::kParallel) {
      ps.chunks = chunks_dev.as<Mamba2ChunkItem>();
      ps.num_chunks = static_cast<int>(chunks.size());
      SetMamba2ChunkWorkspace(ps, workspace->data());
      LaunchMamba2ParallelScan(ps, stream);
    } else {
      LaunchMamba2ChunkScan(ps, num_sms, stream);
    }
    LaunchMamba2DecodeStep(pd, stream);
    REQUIRE(cudaGetLastError() == cudaSuccess);
    REQUIRE(cudaStreamSynchronize(stream) == cudaSuccess);
    const std::vector<float> y = DownloadRaw<float>(*y_dev, size_t(num_tokens) * inner);

    // Float64 recurrence over the same (bf16) inputs.
    std::vector<double> y_ref(size_t(num_tokens) * inner);
    for (const auto& [ri, first] : owners) {
      SsdRequest& r = requests[ri];
      for (int t = first; t < first + r.pieces[step]; ++t) {
        const float* row = &xbc[size_t(t) * conv_dim];
        for (int h = 0; h < nh; ++h) {
          const int g = h / heads_per_group;
          const double dt = std::clamp(Softplus(double(dt_raw[size_t(t) * nh + h]) + dt_bias[h]),
                                       0.0, double(c.dt_max));
          const double decay = std::exp(dt * a[h]);
          for (int pi = 0; pi < P; ++pi) {
            const double x = row[h * P + pi];
            double* s = &r.state[h * head_state + size_t(pi) * N];
            double acc = 0;
            for (int n = 0; n < N; ++n) {
              s[n] = s[n] * decay + dt * x * row[inner + g * N + n];
              acc += s[n] * row[inner + (G + g) * N + n];
            }
            y_ref[size_t(t) * inner + h * P + pi] = acc + d[h] * x;
          }
        }
      }
    }
    const ErrorStats e = Compare(y, y_ref);
    INFO("step " << step << ": y relative L2 " << e.relative_l2 << ", max abs " << e.max_abs);
    CHECK_FALSE(e.has_nan);
    CHECK(e.relative_l2 <= 1e-2);
    worst_y = std::max(worst_y, e.relative_l2);
  }
  const std::vector<float> states = DownloadRaw<float>(state_dev, num_slots * slot_state);
  double worst_state = 0;
  for (const SsdRequest& r : requests) {
    const std::vector<float> got(states.begin() + r.slot * slot_state,
                                 states.begin() + (r.slot + 1) * slot_state);
    const ErrorStats e = Compare(got, r.state);
    INFO("slot " << r.slot << ": state relative L2 " << e.relative_l2);
    CHECK_FALSE(e.has_nan);
    CHECK(e.relative_l2 <= 1e-2);
    worst_state = std::max(worst_state, e.relative_l2);
  }
  WARN(what.str() << ": worst y relative L2 " << worst_y << ", worst state " << worst_state);
}

TEST_CASE("cuda mamba2 SSD scan and decode match the float64 recurrence", "[gpu][cuda][mamba2]") {
  if (!HaveGpu()) return;
  std::mt19937 rng(11);
  const SsdShape shapes[] = {{4, 64, 128, 1, kInf},
                             {8, 16, 16, 2, kInf},
                             {4, 32, 64, 2, 0.05f},
                             {2, 64, 256, 1, kInf},
                             {6, 32, 32, 3, kInf}};
  for (const SsdShape& shape : shapes) {
    for (ScanKind kind : {ScanKind::kSequential32, ScanKind::kSequential16, ScanKind::kParallel}) {
      // Single requests at the chunk edges, then decode steps after the prefill.
      for (int length : {1, 63, 64, 65, 200}) {
        SsdRequest r;
        r.pieces = {length, 1, 1};
        r.slot = 1;
        RunSsdCase(shape, {r}, kind, false, rng);
      }
      // Several requests of different lengths in one step; chunked prefill continued from the
      // state (pieces not multiples of 64), decode steps mixed with prefill pieces.
      std::vector<SsdRequest> batch(4);
      batch[0].pieces = {130, 70, 1, 1};
      batch[1].pieces = {1, 1, 1, 1, 1};
      batch[2].pieces = {37, 29, 64, 1};
      batch[3].pieces = {300, 1};
      for (int i = 0; i < 4; ++i) batch[i].slot = 3 - i;
      RunSsdCase(shape, batch, kind, false, rng);
      RunSsdCase(shape, batch, kind, true, rng);  // the scan kernel on single tokens too
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The whole layer against reference::Mamba2Reference (float64 token recurrence).

constexpr int kHidden = 64;

struct LayerCase {
  const char* name;
  int num_heads, head_dim, state_size, num_groups, conv_kernel;
  bool norm_per_group, proj_bias;
  float dt_max;
};

struct LayerHarness {
  ModelSpec model;
  MixerSpec mixer;
  std::unique_ptr<WeightStore> weights;
  std::unique_ptr<MixerLayer> layer;
  const Mamba2Spec& spec() const { return std::get<Mamba2Spec>(mixer.params); }
};

LayerHarness MakeLayer(const LayerCase& c, std::mt19937& rng, int num_slots,
                       int parallel_scan_min_tokens) {
  LayerHarness h;
  h.model.hidden_size = kHidden;
  Mamba2Spec s;
  s.num_heads = c.num_heads;
  s.head_dim = c.head_dim;
  s.state_size = c.state_size;
  s.num_groups = c.num_groups;
  s.conv_kernel = c.conv_kernel;
  s.inner_size = c.num_heads * c.head_dim;
  s.norm_per_group = c.norm_per_group;
  s.proj_bias = c.proj_bias;
  s.dt_max = c.dt_max;
  h.mixer = MixerSpec{MixerKind::kMamba2, s, "m."};
  const int64_t inner = s.inner_size, gn = int64_t{s.num_groups} * s.state_size;
  const int64_t conv_dim = inner + 2 * gn, proj = 2 * inner + 2 * gn + s.num_heads;
  std::vector<float> dt_bias = Uniform(rng, s.num_heads, std::log(1e-3f), std::log(1e-1f));
  for (float& v : dt_bias) v = std::log(std::expm1(std::exp(v)));
  // Matrices already bf16-exact, so the reference sees the weights the GPU sees.
  std::vector<std::pair<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>> t = {
      {"m.in_proj.weight",
       {{proj, kHidden}, RoundToHalf(Uniform(rng, proj * kHidden, -0.3f, 0.3f), DType::kBF16)}},
      {"m.conv1d.weight",
       {{conv_dim, 1, s.conv_kernel}, Uniform(rng, conv_dim * s.conv_kernel, -0.5f, 0.5f)}},
      {"m.conv1d.bias", {{conv_dim}, Uniform(rng, conv_dim, -0.2f, 0.2f)}},
      {"m.dt_bias", {{s.num_heads}, dt_bias}},
      {"m.A_log", {{s.num_heads}, Uniform(rng, s.num_heads, 0.0f, std::log(16.0f))}},
      {"m.D", {{s.num_heads}, Uniform(rng, s.num_heads, 0.5f, 1.5f)}},
      {"m.norm.weight", {{inner}, Uniform(rng, inner, 0.5f, 1.5f)}},
      {"m.out_proj.weight",
       {{kHidden, inner}, RoundToHalf(Uniform(rng, kHidden * inner, -0.3f, 0.3f), DType::kBF16)}}};
  if (c.proj_bias) {
    t.push_back({"m.in_proj.bias", {{proj}, Uniform(rng, proj, -0.3f, 0.3f)}});
    t.push_back({"m.out_proj.bias", {{kHidden}, Uniform(rng, kHidden, -0.3f, 0.3f)}});
  }
  h.weights = WeightStore::FromFloatTensors(std::move(t));
  BackendRegistry registry;
  registry.Register(MakeCudaMamba2Backend());
  auto device = QueryCudaDevice();
  REQUIRE(device.ok());
  auto selection = registry.Select(h.mixer, *device);
  INFO(selection.status().ToString());
  REQUIRE(selection.ok());
  LayerContext context{&h.model, 0, &h.mixer, h.weights.get(), {16, 0, num_slots}};
  auto layer = selection->backend->CreateLayer(context);
  INFO(layer.status().ToString());
  REQUIRE(layer.ok());
  h.layer = std::move(*layer);
  auto* cuda_layer = dynamic_cast<CudaMamba2Layer*>(h.layer.get());
  REQUIRE(cuda_layer != nullptr);
  if (parallel_scan_min_tokens > 0)
    cuda_layer->set_parallel_scan_min_tokens(parallel_scan_min_tokens);
  return h;
}

struct LayerRequest {
  std::vector<int> pieces;
  int slot = 0;
  std::vector<float> x, out;  // [length, hidden]
  int done = 0;
};

void RunLayerRequests(LayerHarness& h, std::vector<LayerRequest>& requests) {
  for (size_t step = 0;; ++step) {
    StepBatch batch;
    std::vector<float> x;
    std::vector<int> owner;
    for (int i = 0; i < static_cast<int>(requests.size()); ++i) {
      LayerRequest& r = requests[i];
      if (step >= r.pieces.size()) continue;
      ScheduledChunk chunk;
      chunk.request = RequestId(i);
      chunk.first_token = batch.num_tokens();
      chunk.num_tokens = r.pieces[step];
      chunk.num_computed = r.done;
      chunk.state_slot = StateSlotId(r.slot);
      batch.chunks.push_back(chunk);
      batch.token_ids.insert(batch.token_ids.end(), chunk.num_tokens, 0);
      x.insert(x.end(), r.x.begin() + int64_t{r.done} * kHidden,
               r.x.begin() + int64_t{r.done + chunk.num_tokens} * kHidden);
      owner.push_back(i);
    }
    if (batch.chunks.empty()) return;
    const int n = batch.num_tokens();
    DeviceBuffer in = UploadHalf(x, DType::kBF16);
    DeviceBuffer out = PoisonedHalf(size_t(n) * kHidden);
    auto status = h.layer->Plan(batch);
    INFO(status.ToString());
    REQUIRE(status.ok());
    h.layer->Run({in.data(), DType::kBF16, n, kHidden}, {out.data(), DType::kBF16, n, kHidden});
    const std::vector<float> got = DownloadHalf(out, size_t(n) * kHidden, DType::kBF16);
    for (size_t c = 0; c < batch.chunks.size(); ++c) {
      LayerRequest& r = requests[owner[c]];
      const ScheduledChunk& chunk = batch.chunks[c];
      std::copy_n(got.begin() + int64_t{chunk.first_token} * kHidden,
                  int64_t{chunk.num_tokens} * kHidden, r.out.begin() + int64_t{r.done} * kHidden);
      r.done += chunk.num_tokens;
    }
  }
}

TEST_CASE("cuda mamba2 layer matches the float64 reference", "[gpu][cuda][mamba2]") {
  if (!HaveGpu()) return;
  std::mt19937 rng(7);
  const LayerCase cases[] = {
      {"1 group, norm over I", 4, 16, 16, 1, 4, false, false, kInf},
      {"2 groups, per-group norm", 4, 32, 64, 2, 4, true, false, kInf},
      {"4 groups, biases, dt <= 0.05, conv 3", 4, 16, 32, 4, 3, false, true, 0.05f},
      {"P 64 N 128, 1 group", 2, 64, 128, 1, 4, false, false, kInf}};
  // 0: the default scan; 256: the chunk-parallel scan on the first step (303 prefill tokens),
  // the sequential one on the second (90), then decode: states handed between all three.
  for (int parallel_min : {0, kMamba2ParallelScanMinTokens})
    for (const LayerCase& c : cases) {
      LayerHarness h = MakeLayer(c, rng, 5, parallel_min);
      std::vector<LayerRequest> requests(4);
      requests[0].pieces = {200, 1, 1, 1};
      requests[1].pieces = {1, 1, 1, 1};
      requests[2].pieces = {40, 25, 65, 1, 1};
      requests[3].pieces = {63, 1};
      for (int i = 0; i < 4; ++i) {
        LayerRequest& r = requests[i];
        r.slot = 4 - i;
        int length = 0;
        for (int p : r.pieces) length += p;
        r.x = RoundToHalf(Uniform(rng, size_t(length) * kHidden, -1.0f, 1.0f), DType::kBF16);
        r.out.assign(r.x.size(), std::nanf(""));
      }
      // Twice: the second run re-zeroes every slot (num_computed == 0) over the first run's state.
      for (int round = 0; round < 2; ++round) {
        for (LayerRequest& r : requests) r.done = 0;
        RunLayerRequests(h, requests);
        for (int i = 0; i < 4; ++i) {
          const LayerRequest& r = requests[i];
          const int length = static_cast<int>(r.x.size() / kHidden);
          const std::vector<double> ref =
              reference::Mamba2Reference(h.spec(), kHidden, *h.weights, "m.",
                                         std::vector<double>(r.x.begin(), r.x.end()), length);
          const ErrorStats e = Compare(r.out, ref);
          INFO(c.name << " parallel scan from " << parallel_min << " tokens, round " << round
                      << " request " << i << " (length " << length << "): relative L2 "
                      << e.relative_l2 << ", max abs " << e.max_abs);
          CHECK_FALSE(e.has_nan);
          CHECK(e.relative_l2 <= 1e-2);
          if (round == 1 && i == 0)
            WARN(c.name << " (parallel scan from " << parallel_min << " tokens): layer relative L2 "
                        << e.relative_l2);
        }
      }
    }
}

// ---------------------------------------------------------------------------------------------
// Whole fixtures through the CUDA runner against the CPU float32 runner.

const BackendRegistry& Mamba2Registry() { return CudaRegistry(); }

TEST_CASE("cuda runner matches cpu: mamba2", "[gpu][cuda][mamba2]") {
  if (HaveGpu()) CheckModelOnGpu("mamba2", {{MixerKind::kMamba2, "cuda.mamba2"}}, Mamba2Registry());
}
TEST_CASE("cuda runner matches cpu: mamba2_g2", "[gpu][cuda][mamba2]") {
  if (HaveGpu())
    CheckModelOnGpu("mamba2_g2", {{MixerKind::kMamba2, "cuda.mamba2"}}, Mamba2Registry());
}
TEST_CASE("cuda runner matches cpu: granite_hybrid", "[gpu][cuda][mamba2]") {
  if (HaveGpu())
    CheckModelOnGpu("granite_hybrid",
                    {{MixerKind::kMamba2, "cuda.mamba2"}, {MixerKind::kAttention, "cuda.flash"}},
                    Mamba2Registry());
}
TEST_CASE("cuda runner matches cpu: nemotron_h", "[gpu][cuda][mamba2]") {
  if (HaveGpu())
    CheckModelOnGpu("nemotron_h",
                    {{MixerKind::kMamba2, "cuda.mamba2"}, {MixerKind::kAttention, "cuda.flash"}},
                    Mamba2Registry());
}

TEST_CASE("cuda mamba2 descriptor and rejections", "[cuda][mamba2]") {
  auto backend = MakeCudaMamba2Backend();
  CHECK(backend->descriptor().name == "cuda.mamba2");
  CHECK(backend->descriptor().kind == MixerKind::kMamba2);
  Mamba2Spec s;
  s.num_heads = 64;
  s.head_dim = 64;
  s.state_size = 128;
  s.num_groups = 8;
  s.inner_size = 64 * 64;
  s.dt_max = kInf;
  MixerSpec mixer{MixerKind::kMamba2, s, "m."};
  const DeviceInfo h100{DeviceClass::kCuda, 90, "H100"};
  CHECK(backend->Rejects(mixer, h100).empty());
  CHECK_FALSE(backend->Rejects(mixer, DeviceInfo{DeviceClass::kCpu, 0, "cpu"}).empty());
  CHECK_FALSE(backend->Rejects(mixer, DeviceInfo{DeviceClass::kCuda, 70, "V100"}).empty());
  s.state_size = 96;
  mixer.params = s;
  CHECK_FALSE(backend->Rejects(mixer, h100).empty());
  s.state_size = 128;
  s.head_dim = 24;
  s.inner_size = 64 * 24;
  mixer.params = s;
  CHECK_FALSE(backend->Rejects(mixer, h100).empty());
}

}  // namespace
}  // namespace junction::cuda::testing
