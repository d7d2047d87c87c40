// CpuMamba2Layer ("cpu.mamba2") against the float64 token-recurrence reference: groups, per-group
// or full gated norm, projection biases, a finite dt clamp; two requests in separate state slots
// per batch, prefill split into chunks (chunked SSD on top of an existing state), then decode.
// Also: the chunked scan does not depend on the chunk size, and num_computed == 0 resets a slot.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>

#include "backends/cpu/cpu_backends.h"
#include "tests/reference/mamba2_reference.h"

namespace junction::cpu {
namespace {

constexpr int kHidden = 32;

struct Case {
  const char* name;
  int num_heads, head_dim, state_size, num_groups, conv_kernel;
  bool norm_per_group, proj_bias;
  float dt_max;
};

constexpr float kInf = std::numeric_limits<float>::infinity();
const Case kCases[] = {
    {"1 group, norm over I", 4, 8, 16, 1, 4, false, false, kInf},
    {"2 groups, per-group norm", 4, 8, 16, 2, 4, true, false, kInf},
    {"4 groups, norm over I, biases, dt <= 0.05, conv 3", 4, 8, 8, 4, 3, false, true, 0.05f},
    {"2 groups, per-group norm, P 16 N 32", 2, 16, 32, 2, 4, true, false, kInf},
};

std::vector<float> Uniform(std::mt19937& rng, size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> out(n);
  for (float& v : out) v = u(rng);
  return out;
}

struct Harness {
  ModelSpec model;
  MixerSpec mixer;
  std::unique_ptr<WeightStore> weights;
  std::unique_ptr<MixerLayer> layer;
  const Mamba2Spec& spec() const { return std::get<Mamba2Spec>(mixer.params); }
};

Harness MakeHarness(const Case& c, int chunk_size, std::mt19937& rng, int num_slots = 3) {
  Harness h;
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
  s.dt_min = 0.0f;
  s.dt_max = c.dt_max;
  s.chunk_size = chunk_size;
  h.mixer = MixerSpec{MixerKind::kMamba2, s, "m."};
  const int64_t inner = s.inner_size, gn = int64_t{s.num_groups} * s.state_size;
  const int64_t conv_dim = inner + 2 * gn, proj = 2 * inner + 2 * gn + s.num_heads;
  // dt_bias = softplus^-1 of a log-uniform dt in [1e-3, 1e-1], as Mamba2 initializes it.
  std::vector<float> dt_bias = Uniform(rng, s.num_heads, std::log(1e-3f), std::log(1e-1f));
  for (float& v : dt_bias) v = std::log(std::expm1(std::exp(v)));
  std::vector<float> a_log = Uniform(rng, s.num_heads, 0.0f, std::log(16.0f));
  std::vector<std::pair<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>> t = {
      {"m.in_proj.weight", {{proj, kHidden}, Uniform(rng, proj * kHidden, -0.3f, 0.3f)}},
      {"m.conv1d.weight",
       {{conv_dim, 1, s.conv_kernel}, Uniform(rng, conv_dim * s.conv_kernel, -0.5f, 0.5f)}},
      {"m.conv1d.bias", {{conv_dim}, Uniform(rng, conv_dim, -0.2f, 0.2f)}},
      {"m.dt_bias", {{s.num_heads}, dt_bias}},
      {"m.A_log", {{s.num_heads}, a_log}},
      {"m.D", {{s.num_heads}, Uniform(rng, s.num_heads, 0.5f, 1.5f)}},
      {"m.norm.weight", {{inner}, Uniform(rng, inner, 0.5f, 1.5f)}},
      {"m.out_proj.weight", {{kHidden, inner}, Uniform(rng, kHidden * inner, -0.3f, 0.3f)}}};
  if (c.proj_bias) {
    t.push_back({"m.in_proj.bias", {{proj}, Uniform(rng, proj, -0.3f, 0.3f)}});
    t.push_back({"m.out_proj.bias", {{kHidden}, Uniform(rng, kHidden, -0.3f, 0.3f)}});
  }
  h.weights = WeightStore::FromFloatTensors(std::move(t));
  BackendRegistry registry;
  RegisterCpuBackends(registry);
  auto selection = registry.Select(h.mixer, DeviceInfo{});
  INFO(selection.status().ToString());
  REQUIRE(selection.ok());
  LayerContext context{&h.model, 0, &h.mixer, h.weights.get(), {16, 0, num_slots}};
  auto layer = selection->backend->CreateLayer(context);
  INFO(layer.status().ToString());
  REQUIRE(layer.ok());
  h.layer = std::move(*layer);
  return h;
}

struct Request {
  std::vector<float> x;  // [length, hidden]
  int length = 0;
  int chunk = 0;  // prefill chunk (0 = whole prefill); the last min(3, length - 1) tokens decode
  int slot = 0;
  int done = 0;
  std::vector<float> out;

  int NextCount() const {
    const int prefill = length - std::min(3, length - 1);
    if (done >= prefill) return 1;
    return chunk > 0 ? std::min(chunk, prefill - done) : prefill - done;
  }
};

// Runs the requests to completion, one piece each per step, into their `out`.
void RunRequests(Harness& h, std::vector<Request>& requests) {
  while (true) {
    StepBatch batch;
    std::vector<float> x;
    std::vector<int> owner;
    for (int i = 0; i < static_cast<int>(requests.size()); ++i) {
      Request& r = requests[i];
      if (r.done == r.length) continue;
      ScheduledChunk chunk;
      chunk.request = RequestId(i);
      chunk.first_token = batch.num_tokens();
      chunk.num_tokens = r.NextCount();
      chunk.num_computed = r.done;
      chunk.state_slot = StateSlotId(r.slot);
      batch.chunks.push_back(chunk);
      batch.token_ids.insert(batch.token_ids.end(), chunk.num_tokens, 0);
      x.insert(x.end(), r.x.begin() + int64_t{r.done} * kHidden,
               r.x.begin() + int64_t{r.done + chunk.num_tokens} * kHidden);
      owner.push_back(i);
    }
    if (batch.chunks.empty()) return;
    std::vector<float> out(x.size(), std::nanf(""));
    REQUIRE(h.layer->Plan(batch).ok());
    h.layer->Run({x.data(), DType::kF32, batch.num_tokens(), kHidden},
                 {out.data(), DType::kF32, batch.num_tokens(), kHidden});
    for (size_t c = 0; c < batch.chunks.size(); ++c) {
      Request& r = requests[owner[c]];
      const ScheduledChunk& chunk = batch.chunks[c];
      std::copy_n(out.begin() + int64_t{chunk.first_token} * kHidden,
                  int64_t{chunk.num_tokens} * kHidden, r.out.begin() + int64_t{r.done} * kHidden);
      r.done += chunk.num_tokens;
    }
  }
}

struct Errors {
  double worst = 0;  // max |a - b| / (1 + |b|)
  double rel_l2 = 0;
  size_t nans = 0;
  size_t worst_at = 0;
};

template <typename T>
Errors Measure(const std::vector<float>& out, const std::vector<T>& ref) {
  Errors e;
  double err2 = 0, ref2 = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (std::isnan(out[i])) ++e.nans;
    const double d = std::fabs(out[i] - static_cast<double>(ref[i]));
    err2 += d * d;
    ref2 += static_cast<double>(ref[i]) * ref[i];
    const double scaled = d / (1.0 + std::fabs(static_cast<double>(ref[i])));
    if (scaled > e.worst) e.worst = scaled, e.worst_at = i;
  }
  e.rel_l2 = std::sqrt(err2 / std::max(ref2, 1e-30));
  return e;
}

std::vector<Request> MakeRequests(std::mt19937& rng, int length, int chunk) {
  std::vector<Request> requests(2);
  requests[0].length = length;
  requests[0].chunk = chunk;
  requests[0].slot = 2;
  requests[1].length = length / 2 + 1;
  requests[1].chunk = chunk > 0 ? 29 : 0;
  requests[1].slot = 0;
  for (Request& r : requests) {
    r.x = Uniform(rng, size_t{1} * r.length * kHidden, -1.0f, 1.0f);
    r.out.assign(r.x.size(), std::nanf(""));
  }
  return requests;
}

}  // namespace

TEST_CASE("Mamba2 layer matches the float64 recurrence", "[mamba2]") {
  std::mt19937 rng(99);
  for (const Case& c : kCases) {
    for (int chunk_size : {16, 64}) {
      Harness h = MakeHarness(c, chunk_size, rng);
      for (int length : {1, 3, 17, 63, 65, 129, 1000}) {
        for (int prefill_chunk : {0, 16, 37}) {
          if (length == 1000 && prefill_chunk == 16) continue;  // 0 and 37 cover it
          std::ostringstream what;
          what << c.name << ", SSD chunk " << chunk_size << ", length " << length
               << ", prefill chunk " << prefill_chunk;
          std::vector<Request> requests = MakeRequests(rng, length, prefill_chunk);
          RunRequests(h, requests);
          for (int i = 0; i < 2; ++i) {
            const Request& r = requests[i];
            const std::vector<double> ref =
                reference::Mamba2Reference(h.spec(), kHidden, *h.weights, "m.",
                                           std::vector<double>(r.x.begin(), r.x.end()), r.length);
            const Errors e = Measure(r.out, ref);
            INFO(what.str() << " (request " << i << "): worst scaled error " << e.worst
                            << " at row " << e.worst_at / kHidden << ", relative L2 " << e.rel_l2
                            << ", NaNs " << e.nans);
            CHECK(e.nans == 0);
            CHECK(e.worst <= 1e-4);
            CHECK(e.rel_l2 <= 1e-5);
          }
        }
      }
    }
  }
}

TEST_CASE("Mamba2 chunked scan does not depend on the chunk size", "[mamba2]") {
  for (const Case& c : kCases) {
    std::vector<float> first;
    for (int chunk_size : {1, 7, 16, 64, 256}) {
      std::mt19937 rng(5);  // same weights and inputs for every chunk size
      Harness h = MakeHarness(c, chunk_size, rng);
      std::vector<Request> requests = MakeRequests(rng, 300, 0);
      requests.resize(1);
      RunRequests(h, requests);
      if (first.empty()) {
        first = requests[0].out;
        continue;
      }
      const Errors e = Measure(requests[0].out, first);
      INFO(c.name << ", chunk " << chunk_size << " vs 1: worst " << e.worst << ", relative L2 "
                  << e.rel_l2);
      CHECK(e.nans == 0);
      CHECK(e.worst <= 5e-6);
      CHECK(e.rel_l2 <= 1e-6);
    }
  }
}

TEST_CASE("Mamba2 state slot restarts at num_computed == 0", "[mamba2]") {
  std::mt19937 rng(11);
  Harness h = MakeHarness(kCases[1], 16, rng, 1);
  std::vector<Request> requests = MakeRequests(rng, 40, 16);
  requests.resize(1);
  requests[0].slot = 0;
  RunRequests(h, requests);
  const std::vector<float> first = requests[0].out;
  // The same request again in the same (now dirty) slot must give the same outputs.
  requests[0].done = 0;
  requests[0].out.assign(first.size(), std::nanf(""));
  RunRequests(h, requests);
  const Errors e = Measure(requests[0].out, first);
  CHECK(e.nans == 0);
  CHECK(e.worst == 0.0);
}

TEST_CASE("Mamba2 layer rejects an invalid state slot", "[mamba2]") {
  std::mt19937 rng(3);
  Harness h = MakeHarness(kCases[0], 16, rng, 2);
  StepBatch batch;
  batch.token_ids = {0};
  ScheduledChunk chunk;
  chunk.num_tokens = 1;
  chunk.state_slot = StateSlotId(2);
  batch.chunks.push_back(chunk);
  CHECK(absl::IsInvalidArgument(h.layer->Plan(batch)));
  batch.chunks[0].state_slot = StateSlotId{};
  CHECK(absl::IsInvalidArgument(h.layer->Plan(batch)));
}

}  // namespace junction::cpu
