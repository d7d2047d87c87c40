#include "backends/cpu/gated_deltanet_layer.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "backends/cpu/ops.h"
#include "engine/common/check.h"
#include "engine/common/status_macros.h"

namespace junction::cpu {
namespace {

int64_t I64(int v) { return static_cast<int64_t>(v); }

// torch.nn.functional.softplus (beta 1, threshold 20).
float Softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

// Appends a stored [channels, 1, K] conv weight to `conv` ([.., K] rows).
absl::Status AppendConv(const WeightStore& w, const std::string& name, int channels, int kernel,
                        std::vector<float>& conv) {
  ASSIGN_OR_RETURN(const float* data, w.GetF32(name, {channels, 1, kernel}));
  conv.insert(conv.end(), data, data + I64(channels) * kernel);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GatedDeltaNetWeights> LoadGatedDeltaNetWeights(const LayerContext& context,
                                                              const GatedDeltaNetSpec& spec) {
  const WeightStore& w = *context.weights;
  const std::string& p = context.mixer->weight_prefix;
  const int64_t hidden = context.model->hidden_size;
  const int key_dim = spec.num_key_heads * spec.head_k_dim;
  const int value_dim = spec.num_value_heads * spec.head_v_dim;
  const int conv_dim = 2 * key_dim + value_dim;
  const int hv = spec.num_value_heads;
  const int kernel = spec.conv_kernel;
  GatedDeltaNetWeights out;
  if (spec.fused_qkv) {
    ASSIGN_OR_RETURN(const float* qkv, w.GetF32(p + "in_proj_qkv.weight", {conv_dim, hidden}));
    out.qkv.push_back({qkv, conv_dim, 0});
    RETURN_IF_ERROR(AppendConv(w, p + "conv1d.weight", conv_dim, kernel, out.conv));
    ASSIGN_OR_RETURN(out.a, w.GetF32(p + "in_proj_a.weight", {hv, hidden}));
    ASSIGN_OR_RETURN(out.b, w.GetF32(p + "in_proj_b.weight", {hv, hidden}));
    if (spec.output_gate) {
      ASSIGN_OR_RETURN(out.gate, w.GetF32(p + "in_proj_z.weight", {value_dim, hidden}));
    }
    ASSIGN_OR_RETURN(out.norm, w.GetF32(p + "norm.weight", {spec.head_v_dim}));
    ASSIGN_OR_RETURN(out.out, w.GetF32(p + "out_proj.weight", {hidden, value_dim}));
  } else {
    const std::pair<const char*, int> parts[] = {{"q", key_dim}, {"k", key_dim}, {"v", value_dim}};
    int offset = 0;
    for (const auto& [name, rows] : parts) {
      ASSIGN_OR_RETURN(const float* proj,
                       w.GetF32(absl::StrCat(p, name, "_proj.weight"), {rows, hidden}));
      out.qkv.push_back({proj, rows, offset});
      offset += rows;
      if (spec.short_conv)
        RETURN_IF_ERROR(
            AppendConv(w, absl::StrCat(p, name, "_conv1d.weight"), rows, kernel, out.conv));
    }
    ASSIGN_OR_RETURN(out.a, w.GetF32(p + "a_proj.weight", {hv, hidden}));
    ASSIGN_OR_RETURN(out.b, w.GetF32(p + "b_proj.weight", {hv, hidden}));
    if (spec.output_gate) {
      ASSIGN_OR_RETURN(out.gate, w.GetF32(p + "g_proj.weight", {value_dim, hidden}));
    }
    ASSIGN_OR_RETURN(out.norm, w.GetF32(p + "o_norm.weight", {spec.head_v_dim}));
    ASSIGN_OR_RETURN(out.out, w.GetF32(p + "o_proj.weight", {hidden, value_dim}));
  }
  ASSIGN_OR_RETURN(out.a_log, w.GetF32(p + "A_log", {hv}));
  ASSIGN_OR_RETURN(out.dt_bias, w.GetF32(p + "dt_bias", {hv}));
  return out;
}

CpuGatedDeltaNetLayer::CpuGatedDeltaNetLayer(const LayerContext& context,
                                             const GatedDeltaNetSpec& spec,
                                             GatedDeltaNetWeights weights)
    : model_(*context.model), spec_(spec), weights_(std::move(weights)) {
  shape_ = {spec.num_key_heads, spec.num_value_heads, spec.head_k_dim, spec.head_v_dim};
  key_dim_ = spec.num_key_heads * spec.head_k_dim;
  value_dim_ = spec.num_value_heads * spec.head_v_dim;
  conv_dim_ = 2 * key_dim_ + value_dim_;
  num_slots_ = context.cache.num_state_slots;
  conv_state_.assign(static_cast<size_t>(num_slots_) * conv_dim_ * (spec.conv_kernel - 1), 0.0f);
  ssm_state_.assign(
      static_cast<size_t>(num_slots_) * spec.num_value_heads * spec.head_k_dim * spec.head_v_dim,
      0.0f);
}

absl::Status CpuGatedDeltaNetLayer::Plan(const StepBatch& batch) {
  for (const ScheduledChunk& chunk : batch.chunks)
    if (!chunk.state_slot.valid() || chunk.state_slot.value >= num_slots_)
      return absl::InvalidArgumentError(absl::StrCat("gated deltanet: state slot ",
                                                     chunk.state_slot.value, " is not one of ",
                                                     num_slots_, " slots"));
  batch_ = &batch;
  return absl::OkStatus();
}

void CpuGatedDeltaNetLayer::ConvolveChunk(const ScheduledChunk& chunk, float* window) {
  const int kernel = spec_.conv_kernel;
  const int past = kernel - 1;
  const int n = chunk.num_tokens;
  const float* x = &mixed_[I64(chunk.first_token) * conv_dim_];
  float* y = &conv_out_[I64(chunk.first_token) * conv_dim_];
  if (!spec_.short_conv) {
    for (int64_t i = 0; i < I64(n) * conv_dim_; ++i) y[i] = Silu(x[i]);
    return;
  }
  if (chunk.num_computed == 0) std::fill(window, window + I64(conv_dim_) * past, 0.0f);
  CausalConvSilu(x, conv_dim_, n, conv_dim_, weights_.conv.data(), kernel, window, y, conv_dim_);
}

void CpuGatedDeltaNetLayer::GateAndDecay(int num_tokens, const float* x) {
  const int hv = spec_.num_value_heads;
  const int64_t hidden = model_.hidden_size;
  a_.resize(I64(num_tokens) * hv);
  b_.resize(a_.size());
  g_.resize(a_.size());
  beta_.resize(a_.size());
  MatMulTransposed(x, num_tokens, hidden, weights_.a, hv, nullptr, a_.data());
  MatMulTransposed(x, num_tokens, hidden, weights_.b, hv, nullptr, b_.data());
  for (int64_t t = 0; t < num_tokens; ++t)
    for (int h = 0; h < hv; ++h) {
      const int64_t i = t * hv + h;
      g_[i] = -std::exp(weights_.a_log[h]) * Softplus(a_[i] + weights_.dt_bias[h]);
      beta_[i] = spec_.beta_scale / (1.0f + std::exp(-b_[i]));
    }
}

void CpuGatedDeltaNetLayer::NormalizeAndGate(int num_tokens) {
  const int dv = spec_.head_v_dim;
  RmsNorm(core_.data(), I64(num_tokens) * spec_.num_value_heads, dv, weights_.norm, spec_.norm_eps,
          spec_.norm_plus_one, core_.data());
  if (weights_.gate)
    for (int64_t i = 0; i < I64(num_tokens) * value_dim_; ++i) core_[i] *= Silu(gate_[i]);
}

void CpuGatedDeltaNetLayer::Run(const Activations& in, const Activations& out) {
  JUNCTION_CHECK(batch_ != nullptr, "Run before Plan");
  const int n = in.num_tokens;
  const int64_t hidden = model_.hidden_size;
  const float* x = static_cast<const float*>(in.data);
  mixed_.resize(I64(n) * conv_dim_);
  conv_out_.resize(mixed_.size());
  std::vector<float> part;
  for (const GatedDeltaNetWeights::Projection& proj : weights_.qkv) {
    if (weights_.qkv.size() == 1) {
      MatMulTransposed(x, n, hidden, proj.w, proj.rows, nullptr, mixed_.data());
      continue;
    }
    part.resize(I64(n) * proj.rows);
    MatMulTransposed(x, n, hidden, proj.w, proj.rows, nullptr, part.data());
    for (int64_t t = 0; t < n; ++t)
      std::copy_n(&part[t * proj.rows], proj.rows, &mixed_[t * conv_dim_ + proj.offset]);
  }
  if (weights_.gate) {
    gate_.resize(I64(n) * value_dim_);
    MatMulTransposed(x, n, hidden, weights_.gate, value_dim_, nullptr, gate_.data());
  }
  GateAndDecay(n, x);
  core_.resize(I64(n) * value_dim_);
  const int64_t conv_slot = I64(conv_dim_) * (spec_.conv_kernel - 1);
  const int64_t state_slot = I64(spec_.num_value_heads) * spec_.head_k_dim * spec_.head_v_dim;
  for (const ScheduledChunk& chunk : batch_->chunks) {
    const int slot = chunk.state_slot.value;
    ConvolveChunk(chunk, &conv_state_[slot * conv_slot]);
    float* state = &ssm_state_[slot * state_slot];
    if (chunk.num_computed == 0) std::fill(state, state + state_slot, 0.0f);
    const int64_t row = chunk.first_token;
    GdnInputs inputs;
    inputs.num_tokens = chunk.num_tokens;
    inputs.q = &conv_out_[row * conv_dim_];
    inputs.k = inputs.q + key_dim_;
    inputs.qk_stride = conv_dim_;
    inputs.v = inputs.q + 2 * key_dim_;
    inputs.v_stride = conv_dim_;
    inputs.g = &g_[row * spec_.num_value_heads];
    inputs.beta = &beta_[row * spec_.num_value_heads];
    inputs.scale = 1.0f / std::sqrt(static_cast<float>(spec_.head_k_dim));
    float* o = &core_[row * value_dim_];
    if (chunk.num_tokens == 1) {
      GatedDeltaRuleRecurrent(shape_, inputs, state, o);
    } else {
      GatedDeltaRuleChunked(shape_, inputs, spec_.chunk_size, state, o);
    }
  }
  NormalizeAndGate(n);
  MatMulTransposed(core_.data(), n, value_dim_, weights_.out, hidden, nullptr,
                   static_cast<float*>(out.data));
}

}  // namespace junction::cpu
