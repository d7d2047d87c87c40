// CpuAttentionLayer: a softmax-attention mixer on the CPU. Projects q/k/v (optional bias,
// per-head q/k RMSNorm, Qwen3.5's output gate), applies RoPE, writes K/V into the layer's paged
// blocks and attends with the online-softmax kernel, then projects the output.
//
// Windows: a layer trained with a window (AttentionSpec::sliding_window, HF semantics) sees the
// token itself and W-1 earlier keys. A request with AttentionPolicy::kWindow (StreamingLLM length
// extension) sees min(W_layer, W_policy) keys plus its first num_sinks tokens, and positions
// follow the cache: a sink scores as if it sat just before the window. Keys stay in the cache
// rotated at their true positions (RoPE is relative, so window keys already have the right
// distances, cached blocks stay valid for prefix sharing, and nothing is re-rotated per step);
// only the sink scores use a second query, rotated at position W-1+num_sinks instead of p, which
// is the same as moving every sink s to position p-W+1-num_sinks+s. Window-mode requests rotate
// with double-precision angles so that positions far past the trained context stay exact.
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
  // q/k/v for every token of the step; K/V are also written into the paged cache. Fills
  // q_sinks_ for the rows of window-mode chunks.
  void ProjectAndCache(const float* x, int num_tokens);
  // RoPE on one token's q (and its sink query) and k, by the chunk's policy.
  void RotateToken(const ScheduledChunk& chunk, int64_t row, int position);
  KeyRange RangeFor(const ScheduledChunk& chunk) const;
  // Whether the chunk's sink scores use the re-rotated query (window policy with RoPE).
  bool UsesSinkQuery(const ScheduledChunk& chunk) const;

  const ModelSpec& model_;
  AttentionSpec spec_;
  AttentionWeights weights_;
  bool allow_window_policy_;
  RopeFrequencies rope_;
  std::vector<float> k_cache_, v_cache_;
  PagedKv kv_;
  const StepBatch* batch_ = nullptr;
  // Scratch reused across steps (grows, never shrinks).
  std::vector<float> q_, q_sinks_, k_, v_, gate_, attended_;
};

}  // namespace junction::cpu
