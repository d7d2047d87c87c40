// CudaMamba2Layer: the Mamba2 (SSD) mixer on the GPU (DESIGN.md §4), the CUDA twin of
// backends/cpu/mamba2_layer.h:
//   in_proj (cuBLASLt: z | xBC in bf16, dt in float32) -> causal conv + SiLU on xBC (conv window
//   in the state slot) -> chunked SSD scan for prefill chunks (tensor cores, fp32 state carried
//   across 64-token chunks) and one batched recurrence launch for all single-token requests ->
//   gated RMSNorm (over I, or per group for NemotronH) -> out_proj (cuBLASLt).
//
// State slots (device memory owned by the layer, sized by CacheGeometry::num_state_slots),
// float32, the same layout as the CPU layer:
//   conv_state [num_state_slots, K-1, conv_dim]  the last K-1 xBC inputs (before the conv),
//                                                oldest first (conv_dim = I + 2GN)
//   ssm_state  [num_state_slots, nh, P, N]
// ScheduledChunk::state_slot selects the slot; num_computed == 0 starts from zero state (the
// slot is overwritten, never read). A chunk of one token runs the recurrence, longer ones the
// chunked scan; both continue from whatever the slot holds. The chunked scan is the one-launch
// sequential kernel (one CTA walks a request's chunks); the chunk-parallel scan (three launches,
// a workspace of ~6 bytes * nh * P * N per 64 tokens) serves steps with at least
// parallel_scan_min_tokens() prefill tokens (default kMamba2ParallelScanMinTokens; measured on an
// H100: 0.094 vs 0.123 ms at 1k tokens, 1.14 vs 1.83 ms at 16k).
#pragma once

#include <cuda_runtime.h>

#include <limits>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "backends/cuda/cuda_context.h"
#include "backends/cuda/device_memory.h"
#include "backends/cuda/plan_upload.h"
#include "backends/cuda/kernels/mamba2_kernels.h"
#include "engine/backend/mixer_backend.h"

namespace junction::cuda {

// Where the chunk-parallel scan takes over: it parallelizes over chunks x heads instead of
// requests x heads, which pays once a step holds a few chunks.
inline constexpr int kMamba2ParallelScanMinTokens = 256;

// Empty when the CUDA kernels serve `spec`, else the reason they do not.
std::string Mamba2CudaUnsupported(const Mamba2Spec& spec);

class CudaMamba2Layer : public MixerLayer {
 public:
  // Uploads the layer's weights (bf16 matrices, float32 vectors) and allocates its state slots
  // (zeroed). A random weight source (MakeRandomWeightSource) gets Mamba2-style random
  // parameters (A_log, dt_bias, D, conv) for benchmarks. Errors: a missing or misshapen weight,
  // no state slots, out of device memory.
  static absl::StatusOr<std::unique_ptr<CudaMamba2Layer>> Create(const LayerContext& context,
                                                                 CudaContext* cuda);

  // Builds the step's work lists (scan, decode, conv items) and uploads them with one
  // asynchronous copy; grows scratch buffers. Errors: a chunk without a valid state slot or
  // with tokens outside the step.
  absl::Status Plan(const StepBatch& batch) override;
  // in/out: [num_tokens, hidden] bf16 device activations.
  void Run(const Activations& in, const Activations& out) override;
  // Decode-only steps (no scan items): the token, conv-item and decode-item counts and every
  // pointer of the work lists and scratch buffers Run launches with. False with a scan.
  bool AppendGraphKey(std::vector<uint64_t>& key) const override;

  // Steps whose prefill chunks hold at least this many tokens use the chunk-parallel scan.
  int parallel_scan_min_tokens() const { return parallel_scan_min_tokens_; }
  void set_parallel_scan_min_tokens(int tokens) { parallel_scan_min_tokens_ = tokens; }

  const float* conv_state() const { return conv_state_.as<float>(); }
  const float* ssm_state() const { return ssm_state_.as<float>(); }
  int conv_dim() const { return conv_dim_; }

 private:
  CudaMamba2Layer() = default;
  absl::Status LoadWeights(const LayerContext& context);

  CudaContext* cuda_ = nullptr;
  Mamba2Spec spec_;
  int hidden_ = 0;
  int conv_dim_ = 0;
  int zxbc_width_ = 0;  // 2I + 2GN: the bf16 part of in_proj
  int num_state_slots_ = 0;
  int parallel_scan_min_tokens_ = kMamba2ParallelScanMinTokens;
  DeviceArena weights_{0};
  const void* w_zxbc_ = nullptr;     // [2I + 2GN, hidden] bf16
  const void* w_dt_ = nullptr;       // [nh, hidden] bf16
  const void* w_out_ = nullptr;      // [hidden, I] bf16
  const float* in_bias_ = nullptr;   // [2I + 2GN] or null
  const float* dt_bias_ = nullptr;   // [nh] dt_bias + in_proj bias of the dt rows
  const float* a_ = nullptr;         // [nh] -exp(A_log)
  const float* d_ = nullptr;         // [nh]
  const float* conv_w_ = nullptr;    // [conv_dim, K]
  const float* conv_b_ = nullptr;    // [conv_dim] or null
  const float* norm_ = nullptr;      // [I]
  const float* out_bias_ = nullptr;  // [hidden] or null
  DeviceBuffer conv_state_, ssm_state_;
  DeviceBuffer zxbc_, dt_, xbc_, y_, normed_;  // scratch, grow-only
  DeviceBuffer chunk_workspace_;               // parallel scan, grow-only

  // The step's plan.
  std::vector<Mamba2ScanItem> scan_items_, decode_items_;
  std::vector<Mamba2ConvItem> conv_items_;
  std::vector<Mamba2ChunkItem> chunks_;  // non-empty: the parallel scan serves scan_items_
  PlanUpload upload_;
  const Mamba2ScanItem* scan_dev_ = nullptr;
  const Mamba2ScanItem* decode_dev_ = nullptr;
  const Mamba2ConvItem* conv_dev_ = nullptr;
  const Mamba2ChunkItem* chunks_dev_ = nullptr;
  int num_tokens_ = 0;
};

}  // namespace junction::cuda
