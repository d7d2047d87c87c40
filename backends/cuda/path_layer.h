// CudaPathLayer: the PaTH attention mixer on the GPU (fla path_attn; DESIGN.md §4), the CUDA
// twin of backends/cpu/path_layer.h with the same cache semantics (every cached key transformed
// to the newest position). Per step: one q|k|v GEMM (bf16 out) and one w|bt|g GEMM (fp32 out)
// on cuBLASLt; w = l2norm(silu(conv(w_up . w_low))) + beta + log gate in one kernel; PaTH
// attention (kernels/path_attention.h); the output GEMM.
//
// PathPlan is the host side of the PaTH kernels for one step: chunk descriptors, block tables,
// token slots, the UT blocks and tiles of prefill-mode chunks, and split-KV decode items, all
// uploaded with one asynchronous copy; it also owns the per-step workspace.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "backends/cuda/cuda_context.h"
#include "backends/cuda/device_memory.h"
#include "backends/cuda/kernels/path_attention.h"
#include "backends/cuda/plan_upload.h"
#include "engine/backend/mixer_backend.h"

namespace junction::cuda {

struct PathPlanConfig {
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int block_size = 16;
  int num_blocks = 0;       // cache size, for validating block tables
  int num_state_slots = 0;  // > 0: every chunk needs a valid state slot below it
  int num_sms = 132;
  // Decode splits are at least this many keys (a multiple of 64); 0 = never split.
  int min_split_keys = 256;
};

class PathPlan {
 public:
  PathPlan() = default;
  PathPlan(const PathPlan&) = delete;
  PathPlan& operator=(const PathPlan&) = delete;

  // Plans `batch` and enqueues the upload on `stream`. A chunk of one token after a non-empty
  // cache is a decode chunk; every other chunk runs in prefill mode (UT blocks of 64 tokens).
  // Errors: a window policy, a block table that does not cover a chunk or names a block outside
  // [0, num_blocks), a missing state slot. Grows its buffers (may allocate).
  absl::Status Build(const StepBatch& batch, const PathPlanConfig& config, cudaStream_t stream);

  // Kernel arguments with the plan's arrays and workspace set; the caller sets qkv, w, beta,
  // log_gate, forget, o, the caches and the scale.
  PathParams Params() const;
  // For CUDA graphs: appends every pointer and count of the planned arrays, workspace and
  // partials that Params() hands the kernels. False when the step has prefill-mode chunks (their
  // UT blocks and tiles size the launches on the host).
  bool AppendGraphKey(std::vector<uint64_t>& key) const;
  const PathChunkDesc* chunks() const { return chunks_dev_; }
  const int32_t* token_chunks() const { return token_chunks_dev_; }
  int num_chunks() const { return static_cast<int>(chunks_.size()); }
  int num_tokens() const { return num_tokens_; }

 private:
  void PlanDecodeChunk(int chunk_index, int split_keys);

  PathPlanConfig config_;
  int num_tokens_ = 0;
  std::vector<PathChunkDesc> chunks_;
  std::vector<int32_t> block_tables_, token_chunks_;
  std::vector<int64_t> slots_;
  std::vector<PathTileItem> blocks_, prefill_items_, finalize_items_;
  std::vector<int32_t> suffix_chunks_;
  std::vector<PathDecodeItem> decode_items_;
  std::vector<PathMergeItem> merges_;
  int num_partials_ = 0;

  PlanUpload upload_;
  DeviceBuffer workspace_, partial_o_, partial_lse_;
  const PathChunkDesc* chunks_dev_ = nullptr;
  const int32_t* block_tables_dev_ = nullptr;
  const int32_t* token_chunks_dev_ = nullptr;
  const int64_t* slots_dev_ = nullptr;
  const PathTileItem* blocks_dev_ = nullptr;
  const PathTileItem* prefill_dev_ = nullptr;
  const PathTileItem* finalize_dev_ = nullptr;
  const PathDecodeItem* decode_dev_ = nullptr;
  const PathMergeItem* merges_dev_ = nullptr;
  const int32_t* suffix_chunks_dev_ = nullptr;
};

class CudaPathLayer : public MixerLayer {
 public:
  // Uploads the weights (bf16 matrices; fp32 w_up, conv, biases) and allocates the zeroed caches:
  // K, V [num_blocks, block_size, H_kv, d] bf16, F [num_blocks, block_size, H] fp32 (forget
  // gate), conv windows [num_state_slots, H_kv * d, K - 1] fp32 (w short conv).
  static absl::StatusOr<std::unique_ptr<CudaPathLayer>> Create(const LayerContext& context,
                                                               CudaContext* cuda);

  // Plans the step and grows the scratch buffers. Errors: see PathPlan::Build.
  absl::Status Plan(const StepBatch& batch) override;
  // in/out: [num_tokens, hidden] bf16. Rewrites every cached key of the planned requests.
  void Run(const Activations& in, const Activations& out) override;
  // Decode-only steps: the plan's key (PathPlan::AppendGraphKey) and the scratch buffers.
  bool AppendGraphKey(std::vector<uint64_t>& key) const override;

 private:
  CudaPathLayer() = default;

  CudaContext* cuda_ = nullptr;
  PathSpec spec_;
  int hidden_ = 0;
  int kv_dim_ = 0;
  int w_cols_ = 0;     // w_rank (low rank) or kv_dim
  int aux_width_ = 0;  // w_cols + H_kv + (gate ? H : 0), padded to a multiple of 8
  CacheGeometry cache_;
  DeviceArena weights_{0};
  const void* w_qkv_ = nullptr;  // [(H + 2 H_kv) d, hidden] bf16
  const void* w_aux_ = nullptr;  // [aux_width, hidden] bf16: w_proj(.0) | bt_proj | g_proj | 0
  const void* w_o_ = nullptr;    // [hidden, H d] bf16
  const float* o_bias_ = nullptr;
  const float* w_up_ = nullptr;  // [kv_dim, w_rank] (low rank)
  const float* conv_ = nullptr;  // [kv_dim, K] (short conv)
  const float* bt_bias_ = nullptr;
  const float* g_bias_ = nullptr;
  DeviceBuffer k_cache_, v_cache_, f_cache_, conv_state_;
  DeviceBuffer qkv_, aux_, w_, beta_, log_gate_, forget_, attended_;  // scratch, grow-only
  PathPlan plan_;
  int num_tokens_ = 0;
};

}  // namespace junction::cuda
