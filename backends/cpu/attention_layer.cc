#include "backends/cpu/attention_layer.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "backends/cpu/ops.h"
#include "engine/common/check.h"
#include "engine/common/status_macros.h"

namespace junction::cpu {
namespace {

int64_t I64(int v) { return static_cast<int64_t>(v); }

// ApplyRope with the angle inv_freq * position formed and rotated in double precision: at
// positions past 2^14 a float32 angle is off by more than 1e-3 radians.
void ApplyRopeExactAngle(float* x, int num_heads, int head_dim, int rotary_dim,
                         const float* inv_freq, float attention_scaling, int64_t position) {
  const int half = rotary_dim / 2;
  for (int i = 0; i < half; ++i) {
    const double angle = static_cast<double>(inv_freq[i]) * static_cast<double>(position);
    const double c = std::cos(angle) * attention_scaling;
    const double s = std::sin(angle) * attention_scaling;
    for (int h = 0; h < num_heads; ++h) {
      float* v = x + I64(h) * head_dim;
      const double a = v[i];
      const double b = v[i + half];
      v[i] = static_cast<float>(a * c - b * s);
      v[i + half] = static_cast<float>(b * c + a * s);
    }
  }
}

}  // namespace

absl::StatusOr<AttentionWeights> LoadAttentionWeights(const LayerContext& context,
                                                      const AttentionSpec& spec) {
  const WeightStore& w = *context.weights;
  const std::string& p = context.mixer->weight_prefix;
  const int64_t hidden = context.model->hidden_size;
  const int64_t q_rows = I64(spec.num_heads) * spec.head_dim * (spec.output_gate ? 2 : 1);
  const int64_t kv_rows = I64(spec.num_kv_heads) * spec.head_dim;
  const int64_t o_cols = I64(spec.num_heads) * spec.head_dim;
  AttentionWeights out;
  ASSIGN_OR_RETURN(out.q, w.GetF32(p + "q_proj.weight", {q_rows, hidden}));
  ASSIGN_OR_RETURN(out.k, w.GetF32(p + "k_proj.weight", {kv_rows, hidden}));
  ASSIGN_OR_RETURN(out.v, w.GetF32(p + "v_proj.weight", {kv_rows, hidden}));
  ASSIGN_OR_RETURN(out.o, w.GetF32(p + "o_proj.weight", {hidden, o_cols}));
  if (spec.qkv_bias) {
    ASSIGN_OR_RETURN(out.q_bias, w.GetF32(p + "q_proj.bias", {q_rows}));
    ASSIGN_OR_RETURN(out.k_bias, w.GetF32(p + "k_proj.bias", {kv_rows}));
    ASSIGN_OR_RETURN(out.v_bias, w.GetF32(p + "v_proj.bias", {kv_rows}));
  }
  if (spec.o_bias) {
    ASSIGN_OR_RETURN(out.o_bias, w.GetF32(p + "o_proj.bias", {hidden}));
  }
  if (spec.qk_norm) {
    ASSIGN_OR_RETURN(out.q_norm, w.GetF32(p + "q_norm.weight", {spec.head_dim}));
    ASSIGN_OR_RETURN(out.k_norm, w.GetF32(p + "k_norm.weight", {spec.head_dim}));
  }
  return out;
}

CpuAttentionLayer::CpuAttentionLayer(const LayerContext& context, const AttentionSpec& spec,
                                     AttentionWeights weights, bool allow_window_policy)
    : model_(*context.model),
      spec_(spec),
      weights_(weights),
      allow_window_policy_(allow_window_policy),
      rope_(ComputeRopeFrequencies(spec.rope)) {
  const size_t cache_floats = static_cast<size_t>(context.cache.num_blocks) *
                              context.cache.block_size * spec.num_kv_heads * spec.head_dim;
  k_cache_.assign(cache_floats, 0.0f);
  v_cache_.assign(cache_floats, 0.0f);
  kv_ = PagedKv{k_cache_.data(), v_cache_.data(), context.cache.block_size, spec.num_kv_heads,
                spec.head_dim};
}

absl::Status CpuAttentionLayer::Plan(const StepBatch& batch) {
  for (const ScheduledChunk& chunk : batch.chunks) {
    if (chunk.policy.mode == AttentionPolicy::Mode::kWindow) {
      if (!allow_window_policy_)
        return absl::FailedPreconditionError(
            "this attention backend has no window policy (sinks + window)");
      if (chunk.policy.window < 1 || chunk.policy.num_sinks < 0)
        return absl::InvalidArgumentError(
            absl::StrCat("window policy needs window >= 1 and num_sinks >= 0, got window ",
                         chunk.policy.window, ", num_sinks ", chunk.policy.num_sinks));
    }
    const int needed =
        (chunk.num_computed + chunk.num_tokens + kv_.block_size - 1) / kv_.block_size;
    if (static_cast<int>(chunk.block_table.size()) < needed)
      return absl::InvalidArgumentError(absl::StrCat(
          "block table covers ", chunk.block_table.size(), " blocks, ", needed, " needed"));
  }
  batch_ = &batch;
  return absl::OkStatus();
}

bool CpuAttentionLayer::UsesSinkQuery(const ScheduledChunk& chunk) const {
  return chunk.policy.mode == AttentionPolicy::Mode::kWindow && chunk.policy.num_sinks > 0 &&
         !rope_.inv_freq.empty();
}

KeyRange CpuAttentionLayer::RangeFor(const ScheduledChunk& chunk) const {
  KeyRange range;
  range.window = spec_.sliding_window;
  if (chunk.policy.mode == AttentionPolicy::Mode::kWindow) {
    range.window =
        range.window > 0 ? std::min(range.window, chunk.policy.window) : chunk.policy.window;
    range.num_sinks = chunk.policy.num_sinks;
  }
  return range;
}

void CpuAttentionLayer::ProjectAndCache(const float* x, int num_tokens) {
  const int64_t hidden = model_.hidden_size;
  const int d = spec_.head_dim;
  const int64_t q_width = I64(spec_.num_heads) * d;
  const int64_t kv_width = I64(spec_.num_kv_heads) * d;
  const int64_t q_rows = q_width * (spec_.output_gate ? 2 : 1);
  q_.resize(num_tokens * q_rows);
  k_.resize(num_tokens * kv_width);
  v_.resize(num_tokens * kv_width);
  MatMulTransposed(x, num_tokens, hidden, weights_.q, q_rows, weights_.q_bias, q_.data());
  MatMulTransposed(x, num_tokens, hidden, weights_.k, kv_width, weights_.k_bias, k_.data());
  MatMulTransposed(x, num_tokens, hidden, weights_.v, kv_width, weights_.v_bias, v_.data());
  if (spec_.output_gate) {
    // q_proj emits, per head, the query followed by its gate: split them apart.
    gate_.resize(num_tokens * q_width);
    std::vector<float> query(num_tokens * q_width);
    for (int64_t t = 0; t < num_tokens; ++t)
      for (int h = 0; h < spec_.num_heads; ++h)
        for (int i = 0; i < d; ++i) {
          query[t * q_width + h * d + i] = q_[t * q_rows + h * 2 * d + i];
          gate_[t * q_width + h * d + i] = q_[t * q_rows + h * 2 * d + d + i];
        }
    q_ = std::move(query);
  }
  if (spec_.qk_norm) {
    RmsNorm(q_.data(), I64(num_tokens) * spec_.num_heads, d, weights_.q_norm, model_.norm_eps,
            model_.norm_plus_one, q_.data());
    RmsNorm(k_.data(), I64(num_tokens) * spec_.num_kv_heads, d, weights_.k_norm, model_.norm_eps,
            model_.norm_plus_one, k_.data());
  }
  q_sinks_.resize(num_tokens * q_width);
  for (const ScheduledChunk& chunk : batch_->chunks) {
    for (int t = 0; t < chunk.num_tokens; ++t) {
      const int64_t row = chunk.first_token + t;
      const int position = chunk.num_computed + t;
      RotateToken(chunk, row, position);
      const BlockId block = chunk.block_table[position / kv_.block_size];
      JUNCTION_CHECK(block.valid(), "writing position %d into a released block", position);
      for (int h = 0; h < spec_.num_kv_heads; ++h) {
        std::copy_n(&k_[row * kv_width + h * d], d, kv_.KeyAt(block, position % kv_.block_size, h));
        std::copy_n(&v_[row * kv_width + h * d], d,
                    kv_.ValueAt(block, position % kv_.block_size, h));
      }
    }
  }
}

void CpuAttentionLayer::RotateToken(const ScheduledChunk& chunk, int64_t row, int position) {
  if (rope_.inv_freq.empty()) return;
  const int d = spec_.head_dim;
  const int rotary = spec_.rope.rotary_dim;
  float* q = &q_[row * spec_.num_heads * d];
  float* k = &k_[row * spec_.num_kv_heads * d];
  if (chunk.policy.mode != AttentionPolicy::Mode::kWindow) {
    ApplyRope(q, spec_.num_heads, d, rotary, rope_.inv_freq.data(), rope_.attention_scaling,
              position);
    ApplyRope(k, spec_.num_kv_heads, d, rotary, rope_.inv_freq.data(), rope_.attention_scaling,
              position);
    return;
  }
  if (UsesSinkQuery(chunk)) {
    // Once the window has left the sinks behind, the query sits W-1 after the window's first
    // key and num_sinks after the sinks' first; before that the sinks are ordinary keys.
    const KeyRange range = RangeFor(chunk);
    float* q_sink = &q_sinks_[row * spec_.num_heads * d];
    std::copy_n(q, spec_.num_heads * d, q_sink);
    ApplyRopeExactAngle(q_sink, spec_.num_heads, d, rotary, rope_.inv_freq.data(),
                        rope_.attention_scaling,
                        std::min(position, range.window - 1 + range.num_sinks));
  }
  ApplyRopeExactAngle(q, spec_.num_heads, d, rotary, rope_.inv_freq.data(), rope_.attention_scaling,
                      position);
  ApplyRopeExactAngle(k, spec_.num_kv_heads, d, rotary, rope_.inv_freq.data(),
                      rope_.attention_scaling, position);
}

void CpuAttentionLayer::Run(const Activations& in, const Activations& out) {
  JUNCTION_CHECK(batch_ != nullptr, "Run before Plan");
  const int num_tokens = in.num_tokens;
  const int d = spec_.head_dim;
  const int64_t q_width = I64(spec_.num_heads) * d;
  ProjectAndCache(static_cast<const float*>(in.data), num_tokens);
  attended_.resize(num_tokens * q_width);
  const int group = spec_.num_heads / spec_.num_kv_heads;
  // Flatten (token, head) pairs across chunks so every core gets work in decode and prefill.
  struct Task {
    int chunk;
    int token;
  };
  std::vector<Task> tasks;
  tasks.reserve(num_tokens);
  for (int c = 0; c < static_cast<int>(batch_->chunks.size()); ++c)
    for (int t = 0; t < batch_->chunks[c].num_tokens; ++t) tasks.push_back({c, t});
  const int64_t num_tasks = static_cast<int64_t>(tasks.size()) * spec_.num_heads;
  // Keys read, roughly: a short decode step is cheaper on one thread than a team wake-up.
  int64_t key_reads = 0;
  for (const ScheduledChunk& c : batch_->chunks)
    key_reads += I64(c.num_tokens) * c.num_computed + I64(c.num_tokens) * (c.num_tokens + 1) / 2;
  const bool parallel = key_reads * spec_.num_heads * d > (int64_t{1} << 16);
#pragma omp parallel for schedule(dynamic, 4) if (parallel)
  for (int64_t i = 0; i < num_tasks; ++i) {
    const Task& task = tasks[i / spec_.num_heads];
    const int h = static_cast<int>(i % spec_.num_heads);
    const ScheduledChunk& chunk = batch_->chunks[task.chunk];
    const int64_t row = chunk.first_token + task.token;
    const float* q = &q_[row * q_width + h * d];
    const float* q_sinks = UsesSinkQuery(chunk) ? &q_sinks_[row * q_width + h * d] : q;
    const BlockTableView table{chunk.block_table.data(),
                               static_cast<int>(chunk.block_table.size())};
    AttendOneHead(q, q_sinks, kv_, h / group, table, chunk.num_computed + task.token,
                  RangeFor(chunk), spec_.scale, &attended_[row * q_width + h * d]);
  }
  if (spec_.output_gate)
    for (int64_t i = 0; i < I64(num_tokens) * q_width; ++i)
      attended_[i] *= 1.0f / (1.0f + std::exp(-gate_[i]));
  MatMulTransposed(attended_.data(), num_tokens, q_width, weights_.o, model_.hidden_size,
                   weights_.o_bias, static_cast<float*>(out.data));
}

}  // namespace junction::cpu
