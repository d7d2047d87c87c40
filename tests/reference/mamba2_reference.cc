#include "tests/reference/mamba2_reference.h"

#include <algorithm>
#include <cmath>

#include "engine/common/check.h"

namespace junction::reference {
namespace {

const float* Weight(const WeightStore& weights, const std::string& name,
                    const std::vector<int64_t>& shape) {
  auto w = weights.GetF32(name, shape);
  JUNCTION_CHECK(w.ok(), "%s", w.status().ToString().c_str());
  return *w;
}

double Silu(double v) { return v / (1.0 + std::exp(-v)); }
double Softplus(double v) { return v > 20.0 ? v : std::log1p(std::exp(v)); }

// in_proj, then the causal conv + SiLU on xBC (zero inputs before the start):
// zxbcdt [T][2I + 2GN + nh], xbc [T][I + 2GN].
void ProjectAndConvolve(const Mamba2Spec& s, int hidden, const WeightStore& weights,
                        const std::string& prefix, const std::vector<double>& x, int num_tokens,
                        std::vector<std::vector<double>>& zxbcdt,
                        std::vector<std::vector<double>>& xbc) {
  const int inner = s.inner_size, kernel = s.conv_kernel;
  const int conv_dim = inner + 2 * s.num_groups * s.state_size;
  const int proj = conv_dim + inner + s.num_heads;
  const float* in_proj = Weight(weights, prefix + "in_proj.weight", {proj, hidden});
  const float* in_bias = s.proj_bias ? Weight(weights, prefix + "in_proj.bias", {proj}) : nullptr;
  const float* conv = Weight(weights, prefix + "conv1d.weight", {conv_dim, 1, kernel});
  const float* conv_bias =
      s.conv_bias ? Weight(weights, prefix + "conv1d.bias", {conv_dim}) : nullptr;
  zxbcdt.assign(num_tokens, std::vector<double>(proj));
  for (int t = 0; t < num_tokens; ++t)
    for (int o = 0; o < proj; ++o) {
      double acc = in_bias ? in_bias[o] : 0.0;
      for (int i = 0; i < hidden; ++i)
        acc += in_proj[static_cast<int64_t>(o) * hidden + i] * x[t * hidden + i];
      zxbcdt[t][o] = acc;
    }
  xbc.assign(num_tokens, std::vector<double>(conv_dim));
  for (int t = 0; t < num_tokens; ++t)
    for (int c = 0; c < conv_dim; ++c) {
      double acc = conv_bias ? conv_bias[c] : 0.0;
      for (int k = 0; k < kernel; ++k) {
        const int src = t - (kernel - 1) + k;
        if (src >= 0) acc += conv[c * kernel + k] * zxbcdt[src][inner + c];
      }
      xbc[t][c] = Silu(acc);
    }
}

// The SSM recurrence of every head from a zero state: y [T][I] (y[t][h * P + p]).
std::vector<std::vector<double>> Recurrence(const Mamba2Spec& s, const WeightStore& weights,
                                            const std::string& prefix,
                                            const std::vector<std::vector<double>>& zxbcdt,
                                            const std::vector<std::vector<double>>& xbc) {
  const int inner = s.inner_size, nh = s.num_heads, p_dim = s.head_dim, n_dim = s.state_size;
  const int groups = s.num_groups;
  const float* dt_bias = Weight(weights, prefix + "dt_bias", {nh});
  const float* a_log = Weight(weights, prefix + "A_log", {nh});
  const float* d_skip = Weight(weights, prefix + "D", {nh});
  const int num_tokens = static_cast<int>(xbc.size());
  std::vector<std::vector<double>> y(num_tokens, std::vector<double>(inner));
  for (int h = 0; h < nh; ++h) {
    const int g = h / (nh / groups);
    const double a = -std::exp(static_cast<double>(a_log[h]));
    std::vector<double> state(static_cast<size_t>(p_dim) * n_dim, 0.0);
    for (int t = 0; t < num_tokens; ++t) {
      double dt = Softplus(zxbcdt[t][2 * inner + 2 * groups * n_dim + h] + dt_bias[h]);
      dt = std::clamp(dt, static_cast<double>(s.dt_min), static_cast<double>(s.dt_max));
      const double* xh = &xbc[t][h * p_dim];
      const double* b = &xbc[t][inner + g * n_dim];
      const double* c = &xbc[t][inner + groups * n_dim + g * n_dim];
      for (int p = 0; p < p_dim; ++p) {
        double out = d_skip[h] * xh[p];
        for (int n = 0; n < n_dim; ++n) {
          double& st = state[p * n_dim + n];
          st = std::exp(dt * a) * st + dt * xh[p] * b[n];
          out += st * c[n];
        }
        y[t][h * p_dim + p] = out;
      }
    }
  }
  return y;
}

}  // namespace

std::vector<double> Mamba2Reference(const Mamba2Spec& s, int hidden, const WeightStore& weights,
                                    const std::string& prefix, const std::vector<double>& x,
                                    int num_tokens) {
  std::vector<std::vector<double>> zxbcdt, xbc;
  ProjectAndConvolve(s, hidden, weights, prefix, x, num_tokens, zxbcdt, xbc);
  const std::vector<std::vector<double>> y = Recurrence(s, weights, prefix, zxbcdt, xbc);
  const int inner = s.inner_size;
  const float* norm = Weight(weights, prefix + "norm.weight", {inner});
  const float* out_proj = Weight(weights, prefix + "out_proj.weight", {hidden, inner});
  const float* out_bias =
      s.proj_bias ? Weight(weights, prefix + "out_proj.bias", {hidden}) : nullptr;
  // Gated RMSNorm (over all of I, or per group of I/G), then out_proj.
  const int width = s.norm_per_group ? inner / s.num_groups : inner;
  std::vector<double> result(static_cast<size_t>(num_tokens) * hidden);
  for (int t = 0; t < num_tokens; ++t) {
    std::vector<double> gated(inner);
    for (int i = 0; i < inner; ++i) gated[i] = y[t][i] * Silu(zxbcdt[t][i]);
    for (int g0 = 0; g0 < inner; g0 += width) {
      double ss = 0;
      for (int i = g0; i < g0 + width; ++i) ss += gated[i] * gated[i];
      const double inv = 1.0 / std::sqrt(ss / width + s.norm_eps);
      for (int i = g0; i < g0 + width; ++i) gated[i] *= inv * norm[i];
    }
    for (int o = 0; o < hidden; ++o) {
      double acc = out_bias ? out_bias[o] : 0.0;
      for (int i = 0; i < inner; ++i)
        acc += out_proj[static_cast<int64_t>(o) * inner + i] * gated[i];
      result[t * hidden + o] = acc;
    }
  }
  return result;
}

}  // namespace junction::reference
