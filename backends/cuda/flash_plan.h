// FlashPlan: the host side of the flash attention kernels for one step (FlashInfer's "plan"):
// splits every chunk into prefill-mode tiles or decode-mode (split-KV) tiles, computes each
// token's cache position and slot, and uploads all of it with one asynchronous copy. Built once
// per step (MixerLayer::Plan), read by every launch of the step.
//
// Windows: a layer trained with a window (sliding_window, HF semantics: the token and W - 1
// earlier keys) and requests with AttentionPolicy::kWindow (StreamingLLM: min(W_layer, W_policy)
// keys plus the first num_sinks tokens) are planned as tiles over the visible key ranges only,
// exactly as the CPU backend's KeyRange. Block-table entries a window policy released (invalid
// BlockId) are accepted where no query of the chunk can see them. For window-policy chunks the
// plan also gives the RoPE inputs of backends/cpu/attention_layer.cc: float64 angles, and a sink
// query rotated at min(p, W - 1 + num_sinks).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "backends/cuda/device_memory.h"
#include "backends/cuda/plan_upload.h"
#include "backends/cuda/kernels/flash_attention.h"
#include "engine/backend/step_batch.h"

namespace junction::cuda {

struct FlashPlanConfig {
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int block_size = 16;
  int num_blocks = 0;  // cache size, for validating block tables
  int num_sms = 132;
  int decode_ctas_per_sm = 2;
  // Decode splits are at least this many keys (a multiple of kFlashKeyTile); 0 = never split.
  int min_split_keys = 128;
  int sliding_window = 0;      // the layer's trained window (AttentionSpec::sliding_window)
  bool window_policy = false;  // accept AttentionPolicy::kWindow chunks (else an error)

  // Layers with equal configs get equal plans from a step's batch, so they can share one.
  bool operator==(const FlashPlanConfig&) const = default;
};

class FlashPlan {
 public:
  FlashPlan() = default;
  FlashPlan(const FlashPlan&) = delete;
  FlashPlan& operator=(const FlashPlan&) = delete;

  // Plans `batch` and enqueues the upload on `stream`. Errors: a block table that does not cover
  // a chunk, names a block outside [0, num_blocks) or has released a block a query sees; a
  // window policy the config does not allow or with window < 1 / num_sinks < 0. May allocate
  // (grow-only buffers).
  absl::Status Build(const StepBatch& batch, const FlashPlanConfig& config, cudaStream_t stream);

  // Kernel arguments with the plan's device arrays filled in; the caller sets q, caches, o.
  FlashParams PrefillParams() const;
  FlashParams DecodeParams() const;
  int num_prefill_items() const { return static_cast<int>(prefill_items_.size()); }
  int num_decode_items() const { return static_cast<int>(decode_items_.size()); }
  const int32_t* positions() const { return positions_dev_; }  // [num_tokens]
  const int64_t* slots() const { return slots_dev_; }          // [num_tokens]
  // [num_tokens], null when no chunk has a window policy: nonzero = rotate with float64 angles.
  const int32_t* exact_rope() const { return has_window_policy_ ? exact_rope_dev_ : nullptr; }
  // [num_tokens], null when no chunk has sinks: >= 0 = the position of the token's sink query.
  const int32_t* sink_positions() const { return has_sinks_ ? sink_positions_dev_ : nullptr; }
  // Successful Builds so far: a layer sharing this plan checks that it was rebuilt for its step.
  uint64_t builds() const { return builds_; }

 private:
  // The chunk's window and sinks (both 0 for full causal attention).
  absl::Status ResolveWindow(const ScheduledChunk& chunk, FlashChunk& fc) const;
  void PlanDecodeChunk(int chunk_index, const FlashPlanConfig& config, int split_keys);
  FlashParams BaseParams() const;

  FlashPlanConfig config_;
  std::vector<FlashChunk> chunks_;
  std::vector<int32_t> block_tables_;
  std::vector<FlashWorkItem> prefill_items_, decode_items_;
  std::vector<FlashMergeItem> merges_;
  std::vector<int32_t> positions_;
  std::vector<int64_t> slots_;
  std::vector<int32_t> exact_rope_, sink_positions_;
  bool has_window_policy_ = false, has_sinks_ = false;
  int num_partials_ = 0;
  uint64_t builds_ = 0;

  PlanUpload upload_;
  DeviceBuffer partial_o_, partial_lse_, merge_counters_;
  const FlashChunk* chunks_dev_ = nullptr;
  const int32_t* block_tables_dev_ = nullptr;
  const FlashWorkItem* prefill_dev_ = nullptr;
  const FlashWorkItem* decode_dev_ = nullptr;
  const FlashMergeItem* merges_dev_ = nullptr;
  const int32_t* positions_dev_ = nullptr;
  const int64_t* slots_dev_ = nullptr;
  const int32_t* exact_rope_dev_ = nullptr;
  const int32_t* sink_positions_dev_ = nullptr;
};

}  // namespace junction::cuda
