#include "backends/cpu/mamba2_ssd.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/ops.h"

namespace junction::cpu {

void SsdChunkedScan(const SsdHeadInputs& in, int chunk_size, float* state, float* y,
                    int64_t y_stride) {
  const int p_dim = in.head_dim;
  const int n_dim = in.state_size;
  const int q = std::max(chunk_size, 1);
  std::vector<float> cum(q), weight(static_cast<size_t>(q) * q);
  for (int t0 = 0; t0 < in.num_tokens; t0 += q) {
    const int len = std::min(q, in.num_tokens - t0);
    auto x_at = [&](int l) { return in.x + (t0 + l) * in.x_stride; };
    auto b_at = [&](int l) { return in.b + (t0 + l) * in.bc_stride; };
    auto c_at = [&](int l) { return in.c + (t0 + l) * in.bc_stride; };
    auto dt_at = [&](int l) { return in.dt[(t0 + l) * in.dt_stride]; };
    // Log-decay from the chunk start through token l: every exponent below is <= 0.
    float acc = 0.0f;
    for (int l = 0; l < len; ++l) cum[l] = acc += dt_at(l) * in.a;
    // Intra-chunk mixing matrix: weight[l, s] = exp(cum_l - cum_s) (C_l . B_s) dt_s, s <= l.
    for (int l = 0; l < len; ++l) {
      const float* c = c_at(l);
      for (int s = 0; s <= l; ++s) {
        const float* b = b_at(s);
        float dot = 0.0f;
        for (int n = 0; n < n_dim; ++n) dot += c[n] * b[n];
        weight[l * q + s] = std::exp(cum[l] - cum[s]) * dot * dt_at(s);
      }
    }
    // Outputs: the state carried in from earlier chunks, plus the chunk's own tokens.
    for (int l = 0; l < len; ++l) {
      float* out = y + (t0 + l) * y_stride;
      const float* c = c_at(l);
      const float* x = x_at(l);
      const float decay = std::exp(cum[l]);
      for (int p = 0; p < p_dim; ++p) {
        const float* row = state + static_cast<int64_t>(p) * n_dim;
        float v = 0.0f;
        for (int n = 0; n < n_dim; ++n) v += row[n] * c[n];
        out[p] = decay * v + in.d * x[p];
      }
      for (int s = 0; s <= l; ++s) {
        const float w = weight[l * q + s];
        const float* xs = x_at(s);
#pragma omp simd
        for (int p = 0; p < p_dim; ++p) out[p] += w * xs[p];
      }
    }
    // State after the chunk.
    const float total = std::exp(cum[len - 1]);
    for (int64_t i = 0; i < static_cast<int64_t>(p_dim) * n_dim; ++i) state[i] *= total;
    for (int s = 0; s < len; ++s) {
      const float coef = std::exp(cum[len - 1] - cum[s]) * dt_at(s);
      const float* xs = x_at(s);
      const float* b = b_at(s);
      for (int p = 0; p < p_dim; ++p) {
        const float xp = coef * xs[p];
        float* row = state + static_cast<int64_t>(p) * n_dim;
#pragma omp simd
        for (int n = 0; n < n_dim; ++n) row[n] += xp * b[n];
      }
    }
  }
}

void SsdRecurrentScan(const SsdHeadInputs& in, float* state, float* y, int64_t y_stride) {
  const int p_dim = in.head_dim;
  const int n_dim = in.state_size;
  for (int t = 0; t < in.num_tokens; ++t) {
    const float* x = in.x + t * in.x_stride;
    const float* b = in.b + t * in.bc_stride;
    const float* c = in.c + t * in.bc_stride;
    const float dt = in.dt[t * in.dt_stride];
    const float decay = std::exp(dt * in.a);
    float* out = y + t * y_stride;
    for (int p = 0; p < p_dim; ++p) {
      float* row = state + static_cast<int64_t>(p) * n_dim;
      const float xdt = x[p] * dt;
      float v = 0.0f;
#pragma omp simd reduction(+ : v)
      for (int n = 0; n < n_dim; ++n) {
        row[n] = row[n] * decay + xdt * b[n];
        v += row[n] * c[n];
      }
      out[p] = v + in.d * x[p];
    }
  }
}

void CausalConvSilu(const float* in, int64_t in_stride, int num_tokens, int channels, int kernel,
                    const float* weight, const float* bias, float* window, float* out,
                    int64_t out_stride) {
  const int history = kernel - 1;
#pragma omp parallel for schedule(static) if (static_cast <int64_t>(num_tokens) * channels > 8192)
  for (int ch = 0; ch < channels; ++ch) {
    const float* w = weight + static_cast<int64_t>(ch) * kernel;
    // Input j of this request relative to the chunk (negative: from the window).
    auto input = [&](int j) {
      return j >= 0 ? in[j * in_stride + ch] : window[(history + j) * channels + ch];
    };
    for (int t = 0; t < num_tokens; ++t) {
      float acc = bias ? bias[ch] : 0.0f;
      for (int k = 0; k < kernel; ++k) acc += w[k] * input(t - history + k);
      out[t * out_stride + ch] = Silu(acc);
    }
    // Keep the last K-1 inputs, oldest first (reads happen before the overwrite of each row).
    for (int r = 0; r < history; ++r) {
      window[r * channels + ch] = input(num_tokens - history + r);
    }
  }
}

}  // namespace junction::cpu
