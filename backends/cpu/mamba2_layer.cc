#include "backends/cpu/mamba2_layer.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "backends/cpu/mamba2_ssd.h"
#include "backends/cpu/ops.h"
#include "engine/common/check.h"
#include "engine/common/status_macros.h"

namespace junction::cpu {
namespace {

int64_t I64(int v) { return static_cast<int64_t>(v); }

float Softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

}  // namespace

absl::StatusOr<Mamba2Weights> LoadMamba2Weights(const LayerContext& context,
                                                const Mamba2Spec& spec) {
  const WeightStore& w = *context.weights;
  const std::string& p = context.mixer->weight_prefix;
  const int64_t hidden = context.model->hidden_size;
  const int64_t inner = spec.inner_size;
  const int64_t gn = I64(spec.num_groups) * spec.state_size;
  const int64_t conv_dim = inner + 2 * gn;
  const int64_t proj = 2 * inner + 2 * gn + spec.num_heads;
  const int64_t nh = spec.num_heads;
  Mamba2Weights out;
  ASSIGN_OR_RETURN(out.in_proj, w.GetF32(p + "in_proj.weight", {proj, hidden}));
  ASSIGN_OR_RETURN(out.conv, w.GetF32(p + "conv1d.weight", {conv_dim, 1, spec.conv_kernel}));
  ASSIGN_OR_RETURN(out.dt_bias, w.GetF32(p + "dt_bias", {nh}));
  ASSIGN_OR_RETURN(out.a_log, w.GetF32(p + "A_log", {nh}));
  ASSIGN_OR_RETURN(out.d, w.GetF32(p + "D", {nh}));
  ASSIGN_OR_RETURN(out.norm, w.GetF32(p + "norm.weight", {inner}));
  ASSIGN_OR_RETURN(out.out_proj, w.GetF32(p + "out_proj.weight", {hidden, inner}));
  if (spec.conv_bias) {
    ASSIGN_OR_RETURN(out.conv_bias, w.GetF32(p + "conv1d.bias", {conv_dim}));
  }
  if (spec.proj_bias) {
    ASSIGN_OR_RETURN(out.in_proj_bias, w.GetF32(p + "in_proj.bias", {proj}));
    ASSIGN_OR_RETURN(out.out_proj_bias, w.GetF32(p + "out_proj.bias", {hidden}));
  }
  return out;
}

CpuMamba2Layer::CpuMamba2Layer(const LayerContext& context, const Mamba2Spec& spec,
                               Mamba2Weights weights)
    : model_(*context.model), spec_(spec), weights_(weights) {
  const int gn = spec.num_groups * spec.state_size;
  conv_dim_ = spec.inner_size + 2 * gn;
  proj_width_ = 2 * spec.inner_size + 2 * gn + spec.num_heads;
  num_state_slots_ = context.cache.num_state_slots;
  a_.resize(spec.num_heads);
  for (int h = 0; h < spec.num_heads; ++h) a_[h] = -std::exp(weights.a_log[h]);
  conv_state_.assign(static_cast<size_t>(num_state_slots_) * (spec.conv_kernel - 1) * conv_dim_,
                     0.0f);
  ssm_state_.assign(
      static_cast<size_t>(num_state_slots_) * spec.num_heads * spec.head_dim * spec.state_size,
      0.0f);
}

absl::Status CpuMamba2Layer::Plan(const StepBatch& batch) {
  for (const ScheduledChunk& chunk : batch.chunks) {
    if (!chunk.state_slot.valid() || chunk.state_slot.value >= num_state_slots_)
      return absl::InvalidArgumentError(absl::StrCat("Mamba2 layer: state slot ",
                                                     chunk.state_slot.value, " is not in [0, ",
                                                     num_state_slots_, ")"));
  }
  batch_ = &batch;
  return absl::OkStatus();
}

void CpuMamba2Layer::Scan(const ScheduledChunk& chunk, int head) {
  const int p_dim = spec_.head_dim;
  const int n_dim = spec_.state_size;
  const int heads_per_group = spec_.num_heads / spec_.num_groups;
  const int group = head / heads_per_group;
  const int64_t row = chunk.first_token;
  const float* xbc = &xbc_[row * conv_dim_];
  SsdHeadInputs in;
  in.num_tokens = chunk.num_tokens;
  in.head_dim = p_dim;
  in.state_size = n_dim;
  in.x = xbc + I64(head) * p_dim;
  in.x_stride = conv_dim_;
  in.b = xbc + spec_.inner_size + I64(group) * n_dim;
  in.c = xbc + spec_.inner_size + I64(spec_.num_groups) * n_dim + I64(group) * n_dim;
  in.bc_stride = conv_dim_;
  in.dt = &dt_[row * spec_.num_heads + head];
  in.dt_stride = spec_.num_heads;
  in.a = a_[head];
  in.d = weights_.d[head];
  const int64_t state_floats = I64(p_dim) * n_dim;
  float* state = &ssm_state_[(I64(chunk.state_slot.value) * spec_.num_heads + head) * state_floats];
  if (chunk.num_computed == 0) std::fill_n(state, state_floats, 0.0f);
  float* y = &y_[row * spec_.inner_size + I64(head) * p_dim];
  if (chunk.num_tokens == 1) {
    SsdRecurrentScan(in, state, y, spec_.inner_size);
  } else {
    SsdChunkedScan(in, spec_.chunk_size, state, y, spec_.inner_size);
  }
}

void CpuMamba2Layer::GatedNorm(int num_tokens) {
  const int inner = spec_.inner_size;
  const int group_width = spec_.norm_per_group ? inner / spec_.num_groups : inner;
#pragma omp parallel for schedule(static) if (I64(num_tokens) * inner > (1 << 15))
  for (int t = 0; t < num_tokens; ++t) {
    float* y = &y_[I64(t) * inner];
    const float* z = &proj_[I64(t) * proj_width_];
    for (int i = 0; i < inner; ++i) y[i] *= Silu(z[i]);
    for (int g0 = 0; g0 < inner; g0 += group_width) {
      float sum = 0.0f;
      for (int i = g0; i < g0 + group_width; ++i) sum += y[i] * y[i];
      const float inv = 1.0f / std::sqrt(sum / group_width + spec_.norm_eps);
      for (int i = g0; i < g0 + group_width; ++i) y[i] = y[i] * inv * weights_.norm[i];
    }
  }
}

void CpuMamba2Layer::Run(const Activations& in, const Activations& out) {
  JUNCTION_CHECK(batch_ != nullptr, "Run before Plan");
  const int num_tokens = in.num_tokens;
  const int inner = spec_.inner_size;
  const int nh = spec_.num_heads;
  const int kernel = spec_.conv_kernel;
  proj_.resize(I64(num_tokens) * proj_width_);
  xbc_.resize(I64(num_tokens) * conv_dim_);
  dt_.resize(I64(num_tokens) * nh);
  y_.resize(I64(num_tokens) * inner);
  MatMulTransposed(static_cast<const float*>(in.data), num_tokens, model_.hidden_size,
                   weights_.in_proj, proj_width_, weights_.in_proj_bias, proj_.data());
  for (const ScheduledChunk& chunk : batch_->chunks) {
    float* window = &conv_state_[I64(chunk.state_slot.value) * (kernel - 1) * conv_dim_];
    if (chunk.num_computed == 0) std::fill_n(window, (kernel - 1) * conv_dim_, 0.0f);
    const int64_t row = chunk.first_token;
    CausalConvSilu(&proj_[row * proj_width_ + inner], proj_width_, chunk.num_tokens, conv_dim_,
                   kernel, weights_.conv, weights_.conv_bias, window, &xbc_[row * conv_dim_],
                   conv_dim_);
  }
  const int64_t dt_offset = 2 * I64(inner) + 2 * I64(spec_.num_groups) * spec_.state_size;
  for (int64_t t = 0; t < num_tokens; ++t)
    for (int h = 0; h < nh; ++h) {
      const float dt = Softplus(proj_[t * proj_width_ + dt_offset + h] + weights_.dt_bias[h]);
      dt_[t * nh + h] = std::clamp(dt, spec_.dt_min, spec_.dt_max);
    }
  const int64_t num_tasks = static_cast<int64_t>(batch_->chunks.size()) * nh;
  // A decode step is too little work to pay for waking the thread team.
  const bool parallel = I64(num_tokens) * nh * spec_.head_dim * spec_.state_size > (1 << 16);
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
  for (int64_t i = 0; i < num_tasks; ++i) Scan(batch_->chunks[i / nh], static_cast<int>(i % nh));
  GatedNorm(num_tokens);
  MatMulTransposed(y_.data(), num_tokens, inner, weights_.out_proj, model_.hidden_size,
                   weights_.out_proj_bias, static_cast<float*>(out.data));
}

}  // namespace junction::cpu
