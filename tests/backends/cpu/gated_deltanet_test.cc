// The CPU gated delta rule (chunked WY/UT form and the recurrence) against the float64 token
// recurrence: random inputs, beta in (0, 2), GVA, lengths across chunk boundaries, continuation
// from a non-zero state, and the causal short convolution.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <sstream>

#include "backends/cpu/gated_deltanet_kernel.h"
#include "tests/reference/gated_deltanet_reference.h"

namespace junction::cpu {
namespace {

using reference::GdnProblem;

struct Case {
  int num_tokens, hk, hv, dk, dv;
  int chunk_size;
  std::string Describe() const {
    std::ostringstream s;
    s << "T=" << num_tokens << " Hk=" << hk << " Hv=" << hv << " dk=" << dk << " dv=" << dv
      << " chunk=" << chunk_size;
    return s.str();
  }
};

GdnProblem RandomProblem(const Case& c, std::mt19937& rng) {
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> beta(0.01, 1.99), decay(-2.0, -1e-3);
  GdnProblem p;
  p.num_tokens = c.num_tokens;
  p.num_key_heads = c.hk;
  p.num_value_heads = c.hv;
  p.head_k_dim = c.dk;
  p.head_v_dim = c.dv;
  p.scale = 1.0 / std::sqrt(static_cast<double>(c.dk));
  for (auto* v : {&p.q, &p.k}) {
    v->resize(static_cast<size_t>(c.num_tokens) * c.hk * c.dk);
    for (double& x : *v) x = normal(rng);
  }
  p.v.resize(static_cast<size_t>(c.num_tokens) * c.hv * c.dv);
  for (double& x : p.v) x = normal(rng);
  p.g.resize(static_cast<size_t>(c.num_tokens) * c.hv);
  p.beta.resize(p.g.size());
  for (double& x : p.g) x = decay(rng);
  for (double& x : p.beta) x = beta(rng);
  return p;
}

std::vector<float> ToFloat(const std::vector<double>& v) { return {v.begin(), v.end()}; }

double RelativeL2(const std::vector<float>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = got[i] - want[i];
    num += std::isnan(got[i]) ? INFINITY : d * d;
    den += want[i] * want[i];
  }
  return std::sqrt(num / den);
}

// Runs the CPU rule over `parts` (token counts summing to T), each continuing the state, with the
// chunked form for parts longer than one token (or all recurrent when `recurrent`).
std::vector<float> RunCpu(const GdnProblem& p, const Case& c, const std::vector<int>& parts,
                          bool recurrent, std::vector<float>& state) {
  const std::vector<float> q = ToFloat(p.q), k = ToFloat(p.k), v = ToFloat(p.v), g = ToFloat(p.g),
                           beta = ToFloat(p.beta);
  std::vector<float> out(static_cast<size_t>(c.num_tokens) * c.hv * c.dv, NAN);
  const GdnShape shape{c.hk, c.hv, c.dk, c.dv};
  int t0 = 0;
  for (int n : parts) {
    GdnInputs in;
    in.num_tokens = n;
    in.q = &q[static_cast<size_t>(t0) * c.hk * c.dk];
    in.k = &k[static_cast<size_t>(t0) * c.hk * c.dk];
    in.qk_stride = c.hk * c.dk;
    in.v = &v[static_cast<size_t>(t0) * c.hv * c.dv];
    in.v_stride = c.hv * c.dv;
    in.g = &g[static_cast<size_t>(t0) * c.hv];
    in.beta = &beta[static_cast<size_t>(t0) * c.hv];
    in.scale = static_cast<float>(p.scale);
    float* o = &out[static_cast<size_t>(t0) * c.hv * c.dv];
    if (recurrent || n == 1) {
      GatedDeltaRuleRecurrent(shape, in, state.data(), o);
    } else {
      GatedDeltaRuleChunked(shape, in, c.chunk_size, state.data(), o);
    }
    t0 += n;
  }
  return out;
}

void CheckClose(const std::string& what, const std::vector<float>& got,
                const std::vector<double>& want) {
  INFO(what);
  REQUIRE(got.size() == want.size());
  bool finite = true;
  for (float x : got) finite = finite && std::isfinite(x);
  CHECK(finite);
  const double err = RelativeL2(got, want);
  INFO("relative L2 error " << err);
  CHECK(err <= 1e-5);
}

TEST_CASE("gated delta rule matches the float64 recurrence", "[gdn]") {
  std::mt19937 rng(7);
  const std::vector<Case> cases = {
      {1, 1, 1, 8, 8, 64},    {3, 2, 4, 16, 8, 64},    {17, 1, 3, 8, 16, 64},
      {63, 2, 2, 16, 16, 64}, {65, 1, 2, 32, 16, 64},  {129, 2, 4, 16, 32, 64},
      {100, 2, 6, 8, 8, 16},  {200, 1, 1, 32, 64, 64}, {77, 3, 3, 8, 24, 7},
  };
  for (const Case& c : cases) {
    const GdnProblem p = RandomProblem(c, rng);
    const size_t state_size = static_cast<size_t>(c.hv) * c.dk * c.dv;
    // A non-zero starting state: the reference's state after a random warm-up sequence.
    Case warm_case = c;
    warm_case.num_tokens = 9;
    std::vector<double> start(state_size, 0.0);
    reference::GatedDeltaRuleReference(RandomProblem(warm_case, rng), start);
    for (bool from_zero : {true, false}) {
      std::vector<double> ref_state = from_zero ? std::vector<double>(state_size, 0.0) : start;
      const std::vector<double> want = reference::GatedDeltaRuleReference(p, ref_state);
      const std::vector<float> start_f =
          from_zero ? std::vector<float>(state_size, 0.0f) : ToFloat(start);
      const std::string base = c.Describe() + (from_zero ? " from zero" : " from a state");
      std::vector<float> state = start_f;
      CheckClose(base + ", chunked", RunCpu(p, c, {c.num_tokens}, false, state), want);
      CheckClose(base + ", chunked final state", state, ref_state);
      state = start_f;
      CheckClose(base + ", recurrent", RunCpu(p, c, {c.num_tokens}, true, state), want);
      CheckClose(base + ", recurrent final state", state, ref_state);
      // Prefill a part, decode a few tokens, continue with another chunk.
      if (c.num_tokens >= 10) {
        const int first = c.num_tokens / 2, decoded = 3;
        state = start_f;
        CheckClose(base + ", chunk + decode + chunk",
                   RunCpu(p, c, {first, 1, 1, 1, c.num_tokens - first - decoded}, false, state),
                   want);
      }
    }
  }
}

TEST_CASE("causal short convolution continues its window", "[gdn]") {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int channels = 5, kernel = 4, num_tokens = 11;
  std::vector<float> x(num_tokens * channels), w(channels * kernel);
  for (float& v : x) v = normal(rng);
  for (float& v : w) v = normal(rng);
  // Expected: zero-padded causal conv of the whole sequence, then SiLU.
  std::vector<float> want(x.size());
  for (int t = 0; t < num_tokens; ++t)
    for (int c = 0; c < channels; ++c) {
      double acc = 0;
      for (int i = 0; i < kernel; ++i) {
        const int tau = t - (kernel - 1) + i;
        if (tau >= 0) acc += static_cast<double>(w[c * kernel + i]) * x[tau * channels + c];
      }
      want[t * channels + c] = static_cast<float>(acc / (1.0 + std::exp(-acc)));
    }
  for (int split : {1, 2, 5, 10}) {
    INFO("split at " << split);
    std::vector<float> window(channels * (kernel - 1), 0.0f), got(x.size(), NAN);
    CausalConvSilu(x.data(), channels, split, channels, w.data(), kernel, window.data(), got.data(),
                   channels);
    CausalConvSilu(&x[split * channels], channels, num_tokens - split, channels, w.data(), kernel,
                   window.data(), &got[split * channels], channels);
    for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == Approx(want[i]).margin(1e-5));
  }
}

}  // namespace
}  // namespace junction::cpu
