#include "backends/cpu/gated_deltanet_kernel.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace junction::cpu {
namespace {

inline float Dot(const float* a, const float* b, int n) {
  float acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

// y[dv] = scale * S^T x, S [dk, dv].
inline void StateTransposeTimes(const float* state, const float* x, int dk, int dv, float scale,
                                float* y) {
  std::fill(y, y + dv, 0.0f);
  for (int i = 0; i < dk; ++i) {
    const float xi = x[i] * scale;
    const float* row = state + static_cast<int64_t>(i) * dv;
#pragma omp simd
    for (int j = 0; j < dv; ++j) y[j] += xi * row[j];
  }
}

// Normalized q (scaled) and k of every token for key head `kh`: [num_tokens, dk] each.
void NormalizedQk(const GdnShape& s, const GdnInputs& in, int kh, std::vector<float>& q,
                  std::vector<float>& k) {
  const int dk = s.head_k_dim;
  q.resize(static_cast<size_t>(in.num_tokens) * dk);
  k.resize(q.size());
  for (int t = 0; t < in.num_tokens; ++t) {
    float* qt = &q[static_cast<size_t>(t) * dk];
    float* kt = &k[static_cast<size_t>(t) * dk];
    std::copy_n(in.q + t * in.qk_stride + kh * dk, dk, qt);
    std::copy_n(in.k + t * in.qk_stride + kh * dk, dk, kt);
    L2NormalizeInPlace(qt, dk);
    L2NormalizeInPlace(kt, dk);
    for (int i = 0; i < dk; ++i) qt[i] *= in.scale;
  }
}

// One value head, token by token. q, k: normalized [T, dk].
void RecurrentHead(const GdnShape& s, const GdnInputs& in, int h, const float* q, const float* k,
                   float* state, float* out) {
  const int dk = s.head_k_dim, dv = s.head_v_dim, hv = s.num_value_heads;
  std::vector<float> u(dv);
  for (int t = 0; t < in.num_tokens; ++t) {
    const float decay = std::exp(in.g[t * hv + h]);
    const float beta = in.beta[t * hv + h];
    const float* kt = k + static_cast<int64_t>(t) * dk;
    const float* vt = in.v + t * in.v_stride + static_cast<int64_t>(h) * dv;
    for (int64_t i = 0; i < static_cast<int64_t>(dk) * dv; ++i) state[i] *= decay;
    StateTransposeTimes(state, kt, dk, dv, 1.0f, u.data());
    for (int j = 0; j < dv; ++j) u[j] = beta * (vt[j] - u[j]);
    for (int i = 0; i < dk; ++i) {
      float* row = state + static_cast<int64_t>(i) * dv;
#pragma omp simd
      for (int j = 0; j < dv; ++j) row[j] += kt[i] * u[j];
    }
    StateTransposeTimes(state, q + static_cast<int64_t>(t) * dk, dk, dv, 1.0f,
                        out + (static_cast<int64_t>(t) * hv + h) * dv);
  }
}

// Scratch of one chunk of one value head.
struct ChunkScratch {
  std::vector<float> gamma, lower, u;
};

// One chunk [t0, t0 + c) of value head h in the WY/UT form (see the header).
void ChunkStep(const GdnShape& s, const GdnInputs& in, int h, const float* q, const float* k,
               int t0, int c, float* state, float* out, ChunkScratch& w) {
  const int dk = s.head_k_dim, dv = s.head_v_dim, hv = s.num_value_heads;
  w.gamma.resize(c);
  float acc = 0;
  for (int i = 0; i < c; ++i) w.gamma[i] = acc += in.g[(t0 + i) * hv + h];
  // L_ij = beta_i exp(gamma_i - gamma_j) k_i . k_j, j < i.
  w.lower.assign(static_cast<size_t>(c) * c, 0.0f);
  for (int i = 0; i < c; ++i)
    for (int j = 0; j < i; ++j) {
      const float d =
          Dot(k + static_cast<int64_t>(t0 + i) * dk, k + static_cast<int64_t>(t0 + j) * dk, dk);
      w.lower[i * c + j] = in.beta[(t0 + i) * hv + h] * std::exp(w.gamma[i] - w.gamma[j]) * d;
    }
  // R_i = beta_i (v_i - exp(gamma_i) S^T k_i), then forward substitution U = (I + L)^-1 R.
  w.u.resize(static_cast<size_t>(c) * dv);
  for (int i = 0; i < c; ++i) {
    const float beta = in.beta[(t0 + i) * hv + h];
    float* ui = &w.u[static_cast<size_t>(i) * dv];
    StateTransposeTimes(state, k + static_cast<int64_t>(t0 + i) * dk, dk, dv, std::exp(w.gamma[i]),
                        ui);
    const float* vi = in.v + (t0 + i) * in.v_stride + static_cast<int64_t>(h) * dv;
    for (int j = 0; j < dv; ++j) ui[j] = beta * (vi[j] - ui[j]);
    for (int j = 0; j < i; ++j) {
      const float l = w.lower[i * c + j];
      const float* uj = &w.u[static_cast<size_t>(j) * dv];
#pragma omp simd
      for (int x = 0; x < dv; ++x) ui[x] -= l * uj[x];
    }
  }
  // Outputs: the state's part, then the intra-chunk part.
  for (int i = 0; i < c; ++i) {
    const float* qi = q + static_cast<int64_t>(t0 + i) * dk;
    float* oi = out + (static_cast<int64_t>(t0 + i) * hv + h) * dv;
    StateTransposeTimes(state, qi, dk, dv, std::exp(w.gamma[i]), oi);
    for (int j = 0; j <= i; ++j) {
      const float a =
          std::exp(w.gamma[i] - w.gamma[j]) * Dot(qi, k + static_cast<int64_t>(t0 + j) * dk, dk);
      const float* uj = &w.u[static_cast<size_t>(j) * dv];
#pragma omp simd
      for (int x = 0; x < dv; ++x) oi[x] += a * uj[x];
    }
  }
  // State update.
  const float last = w.gamma[c - 1];
  const float total_decay = std::exp(last);
  for (int64_t i = 0; i < static_cast<int64_t>(dk) * dv; ++i) state[i] *= total_decay;
  for (int j = 0; j < c; ++j) {
    const float decay = std::exp(last - w.gamma[j]);
    const float* kj = k + static_cast<int64_t>(t0 + j) * dk;
    const float* uj = &w.u[static_cast<size_t>(j) * dv];
    for (int i = 0; i < dk; ++i) {
      const float a = decay * kj[i];
      float* row = state + static_cast<int64_t>(i) * dv;
#pragma omp simd
      for (int x = 0; x < dv; ++x) row[x] += a * uj[x];
    }
  }
}

}  // namespace

void CausalConvSilu(const float* x, int64_t x_stride, int num_tokens, int channels,
                    const float* weight, int kernel, float* window, float* y, int64_t y_stride) {
  const int past = kernel - 1;
#pragma omp parallel for schedule(static) if (static_cast <int64_t>(num_tokens) * channels > 4096)
  for (int c = 0; c < channels; ++c) {
    const float* w = weight + static_cast<int64_t>(c) * kernel;
    float* win = window + static_cast<int64_t>(c) * past;
    // Input at row tau; negative rows come from the window.
    auto input = [&](int tau) { return tau >= 0 ? x[tau * x_stride + c] : win[past + tau]; };
    for (int t = 0; t < num_tokens; ++t) {
      float acc = 0;
      for (int i = 0; i < kernel; ++i) acc += w[i] * input(t - past + i);
      y[t * y_stride + c] = acc / (1.0f + std::exp(-acc));
    }
    std::vector<float> next(past);
    for (int i = 0; i < past; ++i) next[i] = input(num_tokens - past + i);
    std::copy(next.begin(), next.end(), win);
  }
}

void L2NormalizeInPlace(float* x, int dim) {
  const float inv = 1.0f / std::sqrt(Dot(x, x, dim) + 1e-6f);
  for (int i = 0; i < dim; ++i) x[i] *= inv;
}

void GatedDeltaRuleRecurrent(const GdnShape& shape, const GdnInputs& in, float* state, float* out) {
  const int group = shape.num_value_heads / shape.num_key_heads;
  const int64_t state_size = static_cast<int64_t>(shape.head_k_dim) * shape.head_v_dim;
#pragma omp parallel for schedule(static) if (shape.num_value_heads > 1)
  for (int h = 0; h < shape.num_value_heads; ++h) {
    std::vector<float> q, k;
    NormalizedQk(shape, in, h / group, q, k);
    RecurrentHead(shape, in, h, q.data(), k.data(), state + h * state_size, out);
  }
}

void GatedDeltaRuleChunked(const GdnShape& shape, const GdnInputs& in, int chunk_size, float* state,
                           float* out) {
  const int group = shape.num_value_heads / shape.num_key_heads;
  const int64_t state_size = static_cast<int64_t>(shape.head_k_dim) * shape.head_v_dim;
  chunk_size = std::max(chunk_size, 1);
#pragma omp parallel for schedule(static) if (shape.num_value_heads > 1)
  for (int h = 0; h < shape.num_value_heads; ++h) {
    std::vector<float> q, k;
    NormalizedQk(shape, in, h / group, q, k);
    ChunkScratch scratch;
    for (int t0 = 0; t0 < in.num_tokens; t0 += chunk_size)
      ChunkStep(shape, in, h, q.data(), k.data(), t0, std::min(chunk_size, in.num_tokens - t0),
                state + h * state_size, out, scratch);
  }
}

}  // namespace junction::cpu
