// CudaAttentionLayer: a softmax-attention mixer on the GPU. One fused q|k|v GEMM, one kernel for
// bias + per-head q/k RMSNorm + RoPE + writing K/V into the paged cache, flash attention over the
// cache (prefill tiles and split-KV decode tiles from one FlashPlan), Qwen3.5's output gate, and
// the output GEMM. Serves "cuda.flash" and "cuda.window" with the semantics of the CPU layer
// (backends/cpu/attention_layer.h): a trained window (AttentionSpec::sliding_window) and, when
// allowed, AttentionPolicy::kWindow requests (sinks + window, sinks scored with a query rotated
// at min(p, W - 1 + num_sinks), float64 RoPE angles); blocks the policy released are never read.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "backends/cuda/cuda_context.h"
#include "backends/cuda/device_memory.h"
#include "backends/cuda/flash_plan.h"
#include "engine/backend/mixer_backend.h"

namespace junction::cuda {

class CudaAttentionLayer : public MixerLayer {
 public:
  // Uploads the layer's weights and allocates its K/V caches
  // ([num_blocks, block_size, num_kv_heads, head_dim] each, zeroed). allow_window_policy: Plan
  // accepts AttentionPolicy::kWindow chunks (otherwise it fails on them).
  static absl::StatusOr<std::unique_ptr<CudaAttentionLayer>> Create(
      const LayerContext& context, CudaContext* cuda, DType dtype,
      bool allow_window_policy = false);

  // Plans the flash tiles and uploads them; grows scratch buffers to the step's token count.
  absl::Status Plan(const StepBatch& batch) override;
  // in/out: [num_tokens, hidden] device activations of the layer's dtype.
  void Run(const Activations& in, const Activations& out) override;
  // Decode-only steps (no prefill tiles): the token count, the flash item and merge counts and
  // every pointer of the plan and the scratch buffers. False when the step has prefill tiles.
  bool AppendGraphKey(std::vector<uint64_t>& key) const override;

  // Makes this layer use `leader`'s flash plan instead of building its own, when both would plan
  // alike (equal FlashPlanConfig); returns whether it does. Every step must then Plan the leader
  // before this layer (the runner plans layers in order): one plan and one upload per step
  // instead of one per layer. A follower planned without a fresh leader plan fails its Plan.
  bool SharePlanOf(const CudaAttentionLayer& leader);

  const void* k_cache() const { return k_cache_.data(); }
  const void* v_cache() const { return v_cache_.data(); }

 private:
  CudaAttentionLayer() = default;

  CudaContext* cuda_ = nullptr;
  DType dtype_ = DType::kBF16;
  AttentionSpec spec_;
  int hidden_ = 0;
  float norm_eps_ = 1e-6f;
  bool norm_plus_one_ = false;
  DeviceArena weights_{0};
  int64_t qkv_width_ = 0;        // fused projection rows: (num_heads (x2 gated) + 2 kv) * head_dim
  const void* w_qkv_ = nullptr;  // [qkv_width_, hidden]
  const void* w_o_ = nullptr;    // [hidden, num_heads * head_dim]
  const float* qkv_bias_ = nullptr;
  const float* o_bias_ = nullptr;
  const float* q_norm_ = nullptr;
  const float* k_norm_ = nullptr;
  const float* inv_freq_ = nullptr;
  float attention_scaling_ = 1.0f;
  DeviceBuffer k_cache_, v_cache_;
  DeviceBuffer qkv_, q_, q_sink_, attended_;  // scratch, grow-only
  FlashPlanConfig plan_config_;  // fixed at Create
  std::shared_ptr<FlashPlan> plan_ = std::make_shared<FlashPlan>();
  bool plan_leader_ = true;         // false: plan_ is another layer's, built by its Plan
  uint64_t plan_builds_seen_ = 0;   // a follower's view of plan_->builds() at its last Plan
  int num_tokens_ = 0;
};

}  // namespace junction::cuda
