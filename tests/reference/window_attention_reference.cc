#include "tests/reference/window_attention_reference.h"

#include <algorithm>
#include <cmath>

#include "engine/common/check.h"
#include "engine/model/rope.h"

namespace junction::reference {
namespace {

// Rotates one head vector (HF rotate_half: dim i pairs with i + rotary_dim / 2) to `position`.
std::vector<double> Rotate(const double* x, int head_dim, const WindowAttentionProblem& p,
                           double position) {
  std::vector<double> out(x, x + head_dim);
  const int half = p.rotary_dim / 2;
  for (int i = 0; i < half && !p.inv_freq.empty(); ++i) {
    const double c = std::cos(p.inv_freq[i] * position) * p.rope_scaling;
    const double s = std::sin(p.inv_freq[i] * position) * p.rope_scaling;
    out[i] = x[i] * c - x[i + half] * s;
    out[i + half] = x[i + half] * c + x[i] * s;
  }
  return out;
}

const float* Weight(const WeightStore& weights, const std::string& name,
                    const std::vector<int64_t>& shape) {
  auto w = weights.GetF32(name, shape);
  JUNCTION_CHECK(w.ok(), "%s", w.status().ToString().c_str());
  return *w;
}

// y[rows, out] = x[rows, in] . w[out, in]^T
std::vector<double> MatMul(const std::vector<double>& x, int rows, int in, const float* w,
                           int out) {
  std::vector<double> y(static_cast<size_t>(rows) * out, 0.0);
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < out; ++o) {
      double acc = 0;
      for (int i = 0; i < in; ++i) acc += x[r * in + i] * w[static_cast<int64_t>(o) * in + i];
      y[r * out + o] = acc;
    }
  return y;
}

std::vector<double> RmsNorm(const std::vector<double>& x, int rows, int width, const float* w,
                            double eps) {
  std::vector<double> y(x.size());
  for (int r = 0; r < rows; ++r) {
    double ss = 0;
    for (int i = 0; i < width; ++i) ss += x[r * width + i] * x[r * width + i];
    const double inv = 1.0 / std::sqrt(ss / width + eps);
    for (int i = 0; i < width; ++i) y[r * width + i] = x[r * width + i] * inv * w[i];
  }
  return y;
}

}  // namespace

std::vector<int> VisibleKeys(int i, int window, int num_sinks) {
  std::vector<int> keys;
  for (int j = 0; j <= i; ++j)
    if (window == 0 || j > i - window || j < num_sinks) keys.push_back(j);
  return keys;
}

std::vector<double> WindowAttentionReference(const WindowAttentionProblem& p) {
  const int d = p.head_dim;
  const int group = p.num_heads / p.num_kv_heads;
  std::vector<double> out(static_cast<size_t>(p.num_tokens) * p.num_heads * d, 0.0);
  // Keys rotated at their text positions (used unless positions follow the cache).
  std::vector<std::vector<double>> text_keys;
  for (int j = 0; j < p.num_tokens && !p.cache_positions; ++j)
    for (int kv = 0; kv < p.num_kv_heads; ++kv)
      text_keys.push_back(
          Rotate(&p.k[(static_cast<size_t>(j) * p.num_kv_heads + kv) * d], d, p, j));
  for (int i = 0; i < p.num_tokens; ++i) {
    const std::vector<int> keys = VisibleKeys(i, p.window, p.num_sinks);
    const int n = static_cast<int>(keys.size());
    const double query_position = p.cache_positions ? n - 1 : i;
    for (int h = 0; h < p.num_heads; ++h) {
      const int kv = h / group;
      const std::vector<double> q =
          Rotate(&p.q[(static_cast<size_t>(i) * p.num_heads + h) * d], d, p, query_position);
      std::vector<double> scores(n);
      double max_score = -INFINITY;
      for (int r = 0; r < n; ++r) {
        const int j = keys[r];
        const std::vector<double> k =
            p.cache_positions
                ? Rotate(&p.k[(static_cast<size_t>(j) * p.num_kv_heads + kv) * d], d, p, r)
                : text_keys[static_cast<size_t>(j) * p.num_kv_heads + kv];
        double dot = 0;
        for (int e = 0; e < d; ++e) dot += q[e] * k[e];
        scores[r] = dot * p.scale;
        max_score = std::max(max_score, scores[r]);
      }
      double sum = 0;
      for (double& s : scores) sum += s = std::exp(s - max_score);
      double* o = &out[(static_cast<size_t>(i) * p.num_heads + h) * d];
      for (int r = 0; r < n; ++r) {
        const double* v = &p.v[(static_cast<size_t>(keys[r]) * p.num_kv_heads + kv) * d];
        for (int e = 0; e < d; ++e) o[e] += scores[r] / sum * v[e];
      }
    }
  }
  return out;
}

std::vector<double> AttentionLayerReference(const AttentionSpec& spec, int hidden,
                                            const WeightStore& weights, const std::string& prefix,
                                            const std::vector<double>& x, int num_tokens,
                                            int window, int num_sinks, bool cache_positions) {
  const int d = spec.head_dim;
  const int q_width = spec.num_heads * d;
  const int kv_width = spec.num_kv_heads * d;
  WindowAttentionProblem p;
  p.num_tokens = num_tokens;
  p.num_heads = spec.num_heads;
  p.num_kv_heads = spec.num_kv_heads;
  p.head_dim = d;
  p.q = MatMul(x, num_tokens, hidden, Weight(weights, prefix + "q_proj.weight", {q_width, hidden}),
               q_width);
  p.k = MatMul(x, num_tokens, hidden, Weight(weights, prefix + "k_proj.weight", {kv_width, hidden}),
               kv_width);
  p.v = MatMul(x, num_tokens, hidden, Weight(weights, prefix + "v_proj.weight", {kv_width, hidden}),
               kv_width);
  const RopeFrequencies freqs = ComputeRopeFrequencies(spec.rope);
  p.inv_freq.assign(freqs.inv_freq.begin(), freqs.inv_freq.end());
  p.rotary_dim = spec.rope.rotary_dim;
  p.rope_scaling = freqs.attention_scaling;
  p.scale = spec.scale;
  p.window = window;
  p.num_sinks = num_sinks;
  p.cache_positions = cache_positions;
  const std::vector<double> attended = WindowAttentionReference(p);
  return MatMul(attended, num_tokens, q_width,
                Weight(weights, prefix + "o_proj.weight", {hidden, q_width}), hidden);
}

std::vector<std::vector<double>> LlamaLogitsReference(
    const ModelSpec& spec, const WeightStore& weights, const std::vector<TokenId>& tokens,
    int window, int num_sinks, bool cache_positions, const std::vector<int>& rows) {
  const int hidden = spec.hidden_size;
  const int n = static_cast<int>(tokens.size());
  const float* embedding = Weight(weights, spec.embedding, {spec.vocab_size, hidden});
  std::vector<double> x(static_cast<size_t>(n) * hidden);
  for (int t = 0; t < n; ++t)
    for (int i = 0; i < hidden; ++i)
      x[t * hidden + i] = embedding[static_cast<int64_t>(tokens[t]) * hidden + i];
  for (const LayerSpec& layer : spec.layers) {
    const auto& attn = std::get<AttentionSpec>(layer.mixer->params);
    JUNCTION_CHECK(!attn.qkv_bias && !attn.qk_norm && !attn.output_gate, "plain Llama only");
    const int layer_window = attn.sliding_window > 0 && window > 0
                                 ? std::min(attn.sliding_window, window)
                                 : std::max(attn.sliding_window, window);
    std::vector<double> h =
        RmsNorm(x, n, hidden, Weight(weights, layer.mixer_norm, {hidden}), spec.norm_eps);
    h = AttentionLayerReference(attn, hidden, weights, layer.mixer->weight_prefix, h, n,
                                layer_window, num_sinks, cache_positions);
    for (size_t i = 0; i < x.size(); ++i) x[i] += h[i];
    const MlpSpec& mlp = *layer.mlp;
    const int inter = mlp.intermediate_size;
    h = RmsNorm(x, n, hidden, Weight(weights, layer.mlp_norm, {hidden}), spec.norm_eps);
    std::vector<double> gate =
        MatMul(h, n, hidden, Weight(weights, mlp.gate, {inter, hidden}), inter);
    const std::vector<double> up =
        MatMul(h, n, hidden, Weight(weights, mlp.up, {inter, hidden}), inter);
    for (size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
    h = MatMul(gate, n, inter, Weight(weights, mlp.down, {hidden, inter}), hidden);
    for (size_t i = 0; i < x.size(); ++i) x[i] += h[i];
  }
  const float* final_norm = Weight(weights, spec.final_norm, {hidden});
  const float* lm_head = Weight(weights, spec.lm_head, {spec.vocab_size, hidden});
  std::vector<std::vector<double>> logits;
  for (int row : rows) {
    const std::vector<double> one(x.begin() + static_cast<size_t>(row) * hidden,
                                  x.begin() + static_cast<size_t>(row + 1) * hidden);
    logits.push_back(MatMul(RmsNorm(one, 1, hidden, final_norm, spec.norm_eps), 1, hidden, lm_head,
                            spec.vocab_size));
  }
  return logits;
}

}  // namespace junction::reference
