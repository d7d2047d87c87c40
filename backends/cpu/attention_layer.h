// CpuAttentionLayer: a softmax-attention mixer on the CPU. Projects q/k/v (optional bias,
// per-head q/k RMSNorm, Qwen3.5's output gate), applies RoPE, writes K/V into the layer's paged
// blocks and attends with the online-softmax kernel, then projects the output.
#pragma once

#include <memory>
#include <vector>

#include "backends/cpu/paged_attention.h"
#include "engine/backend/mixer_backend.h"
#include "engine/model/rope.h"

namespace junction::cpu {

struct AttentionWeights {
  const float* q = nullptr;  // [num_heads * head_dim (x2 with the output gate), hidden]
  const float* k = nullptr;  // [num_kv_heads * head_dim, hidden]
  const float* v = nullptr;
  const float* o = nullptr;  // [hidden, num_heads * head_dim]
  const float* q_bias = nullptr;
  const float* k_bias = nullptr;
  const float* v_bias = nullptr;
  const float* o_bias = nullptr;
  const float* q_norm = nullptr;  // [head_dim]
  const float* k_norm = nullptr;
};

absl::StatusOr<AttentionWeights> LoadAttentionWeights(const LayerContext& context,
                                                      const AttentionSpec& spec);

class CpuAttentionLayer : public MixerLayer {
 public:
  CpuAttentionLayer(const LayerContext& context, const AttentionSpec& spec,
                    AttentionWeights weights, bool allow_window_policy);

  absl::Status Plan(const StepBatch& batch) override;
  void Run(const Activations& in, const Activations& out) override;

 private:
  // q/k/v for every token of the step; K/V are also written into the paged cache.
  void ProjectAndCache(const float* x, int num_tokens);
  KeyRange RangeFor(const ScheduledChunk& chunk) const;

  const ModelSpec& model_;
  AttentionSpec spec_;
  AttentionWeights weights_;
  bool allow_window_policy_;
  RopeFrequencies rope_;
  std::vector<float> k_cache_, v_cache_;
  PagedKv kv_;
  const StepBatch* batch_ = nullptr;
  // Scratch reused across steps (grows, never shrinks).
  std::vector<float> q_, k_, v_, gate_, attended_;
};

}  // namespace junction::cpu
