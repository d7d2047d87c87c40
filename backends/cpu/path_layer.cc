#include "backends/cpu/path_layer.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "backends/cpu/gated_deltanet_kernel.h"
#include "backends/cpu/ops.h"
#include "engine/common/check.h"
#include "engine/common/status_macros.h"

namespace junction::cpu {
namespace {

int64_t I64(int v) { return static_cast<int64_t>(v); }

// log(sigmoid(x)), stable for large |x|.
float LogSigmoid(float x) { return std::min(x, 0.0f) - std::log1p(std::exp(-std::fabs(x))); }

}  // namespace

absl::StatusOr<PathWeights> LoadPathWeights(const LayerContext& context, const PathSpec& spec) {
  const WeightStore& store = *context.weights;
  const std::string& p = context.mixer->weight_prefix;
  const int64_t hidden = context.model->hidden_size;
  const int64_t q_dim = I64(spec.num_heads) * spec.head_dim;
  const int64_t kv_dim = I64(spec.num_kv_heads) * spec.head_dim;
  PathWeights out;
  ASSIGN_OR_RETURN(out.q, store.GetF32(p + "q_proj.weight", {q_dim, hidden}));
  ASSIGN_OR_RETURN(out.k, store.GetF32(p + "k_proj.weight", {kv_dim, hidden}));
  ASSIGN_OR_RETURN(out.v, store.GetF32(p + "v_proj.weight", {kv_dim, hidden}));
  ASSIGN_OR_RETURN(out.o, store.GetF32(p + "o_proj.weight", {hidden, q_dim}));
  if (store.Contains(p + "o_proj.bias")) {
    ASSIGN_OR_RETURN(out.o_bias, store.GetF32(p + "o_proj.bias", {hidden}));
  }
  if (spec.low_rank_w) {
    ASSIGN_OR_RETURN(out.w_down, store.GetF32(p + "w_proj.0.weight", {spec.w_rank, hidden}));
    ASSIGN_OR_RETURN(out.w, store.GetF32(p + "w_proj.1.weight", {kv_dim, spec.w_rank}));
  } else {
    ASSIGN_OR_RETURN(out.w, store.GetF32(p + "w_proj.weight", {kv_dim, hidden}));
  }
  if (spec.w_shortconv) {
    ASSIGN_OR_RETURN(const float* conv,
                     store.GetF32(p + "w_conv1d.weight", {kv_dim, 1, spec.conv_kernel}));
    out.w_conv.assign(conv, conv + kv_dim * spec.conv_kernel);
  }
  ASSIGN_OR_RETURN(out.bt, store.GetF32(p + "bt_proj.weight", {spec.num_kv_heads, hidden}));
  ASSIGN_OR_RETURN(out.bt_bias, store.GetF32(p + "bt_proj.bias", {spec.num_kv_heads}));
  if (spec.forget_gate) {
    ASSIGN_OR_RETURN(out.g, store.GetF32(p + "g_proj.weight", {spec.num_heads, hidden}));
    ASSIGN_OR_RETURN(out.g_bias, store.GetF32(p + "g_proj.bias", {spec.num_heads}));
  }
  return out;
}

CpuPathLayer::CpuPathLayer(const LayerContext& context, const PathSpec& spec, PathWeights weights)
    : model_(*context.model), spec_(spec), weights_(std::move(weights)) {
  kv_dim_ = spec.num_kv_heads * spec.head_dim;
  num_slots_ = context.cache.num_state_slots;
  const size_t positions = static_cast<size_t>(context.cache.num_blocks) * context.cache.block_size;
  k_cache_.assign(positions * kv_dim_, 0.0f);
  v_cache_.assign(positions * kv_dim_, 0.0f);
  if (spec.forget_gate) f_cache_.assign(positions * spec.num_heads, 0.0f);
  if (spec.w_shortconv)
    conv_state_.assign(static_cast<size_t>(num_slots_) * kv_dim_ * (spec.conv_kernel - 1), 0.0f);
  cache_ = PathCache{k_cache_.data(),
                     v_cache_.data(),
                     spec.forget_gate ? f_cache_.data() : nullptr,
                     context.cache.block_size,
                     spec.num_heads,
                     spec.num_kv_heads,
                     spec.head_dim};
}

absl::Status CpuPathLayer::Plan(const StepBatch& batch) {
  for (const ScheduledChunk& chunk : batch.chunks) {
    if (chunk.policy.mode == AttentionPolicy::Mode::kWindow)
      return absl::FailedPreconditionError("PaTH attention has no window policy");
    const int needed =
        (chunk.num_computed + chunk.num_tokens + cache_.block_size - 1) / cache_.block_size;
    if (static_cast<int>(chunk.block_table.size()) < needed)
      return absl::InvalidArgumentError(absl::StrCat(
          "PaTH: block table covers ", chunk.block_table.size(), " blocks, ", needed, " needed"));
    for (int b = 0; b < needed; ++b)
      if (!chunk.block_table[b].valid())
        return absl::InvalidArgumentError("PaTH: the block table has a released block");
    if (spec_.w_shortconv && (!chunk.state_slot.valid() || chunk.state_slot.value >= num_slots_))
      return absl::InvalidArgumentError(absl::StrCat("PaTH: state slot ", chunk.state_slot.value,
                                                     " is not one of ", num_slots_, " slots"));
  }
  batch_ = &batch;
  return absl::OkStatus();
}

void CpuPathLayer::Project(const float* x, int num_tokens) {
  const int64_t hidden = model_.hidden_size;
  const int64_t q_dim = I64(spec_.num_heads) * spec_.head_dim;
  const int n = num_tokens;
  q_.resize(n * q_dim);
  k_.resize(I64(n) * kv_dim_);
  v_.resize(k_.size());
  w_raw_.resize(k_.size());
  w_.resize(k_.size());
  MatMulTransposed(x, n, hidden, weights_.q, q_dim, nullptr, q_.data());
  MatMulTransposed(x, n, hidden, weights_.k, kv_dim_, nullptr, k_.data());
  MatMulTransposed(x, n, hidden, weights_.v, kv_dim_, nullptr, v_.data());
  if (weights_.w_down) {
    w_low_.resize(I64(n) * spec_.w_rank);
    MatMulTransposed(x, n, hidden, weights_.w_down, spec_.w_rank, nullptr, w_low_.data());
    MatMulTransposed(w_low_.data(), n, spec_.w_rank, weights_.w, kv_dim_, nullptr, w_raw_.data());
  } else {
    MatMulTransposed(x, n, hidden, weights_.w, kv_dim_, nullptr, w_raw_.data());
  }
  beta_.resize(I64(n) * spec_.num_kv_heads);
  MatMulTransposed(x, n, hidden, weights_.bt, spec_.num_kv_heads, weights_.bt_bias, beta_.data());
  for (float& b : beta_) b = 2.0f / (1.0f + std::exp(-b));
  if (spec_.forget_gate) {
    log_gate_.resize(I64(n) * spec_.num_heads);
    MatMulTransposed(x, n, hidden, weights_.g, spec_.num_heads, weights_.g_bias, log_gate_.data());
    for (float& g : log_gate_) g = LogSigmoid(g);
  }
}

void CpuPathLayer::PrepareW(const ScheduledChunk& chunk) {
  const int64_t first = I64(chunk.first_token) * kv_dim_;
  const int64_t count = I64(chunk.num_tokens) * kv_dim_;
  if (spec_.w_shortconv) {
    const int past = spec_.conv_kernel - 1;
    float* window = &conv_state_[I64(chunk.state_slot.value) * kv_dim_ * past];
    if (chunk.num_computed == 0) std::fill(window, window + I64(kv_dim_) * past, 0.0f);
    CausalConvSilu(&w_raw_[first], kv_dim_, chunk.num_tokens, kv_dim_, weights_.w_conv.data(),
                   spec_.conv_kernel, window, &w_[first], kv_dim_);
  } else {
    std::copy_n(&w_raw_[first], count, &w_[first]);
  }
  for (int64_t i = 0; i < count; i += spec_.head_dim)
    L2NormalizeInPlace(&w_[first + i], spec_.head_dim);
}

void CpuPathLayer::Run(const Activations& in, const Activations& out) {
  JUNCTION_CHECK(batch_ != nullptr, "Run before Plan");
  const int n = in.num_tokens;
  const int64_t q_dim = I64(spec_.num_heads) * spec_.head_dim;
  Project(static_cast<const float*>(in.data), n);
  attended_.resize(n * q_dim);
  for (const ScheduledChunk& chunk : batch_->chunks) {
    PrepareW(chunk);
    const int64_t row = chunk.first_token;
    PathChunk c;
    c.num_tokens = chunk.num_tokens;
    c.num_computed = chunk.num_computed;
    c.block_table = chunk.block_table.data();
    c.q = &q_[row * q_dim];
    c.k = &k_[row * kv_dim_];
    c.v = &v_[row * kv_dim_];
    c.w = &w_[row * kv_dim_];
    c.beta = &beta_[row * spec_.num_kv_heads];
    c.log_gate = spec_.forget_gate ? &log_gate_[row * spec_.num_heads] : nullptr;
    c.scale = spec_.scale;
    PathAttend(cache_, c, &attended_[row * q_dim]);
  }
  MatMulTransposed(attended_.data(), n, q_dim, weights_.o, model_.hidden_size, weights_.o_bias,
                   static_cast<float*>(out.data));
}

}  // namespace junction::cpu
