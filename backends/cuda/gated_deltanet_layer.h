// CudaGatedDeltaNetLayer: the Gated DeltaNet mixer on the GPU ("cuda.gated_deltanet"), with the
// semantics of the CPU layer (backends/cpu/gated_deltanet_layer.h), in Qwen3.5's or fla's weight
// layout. Per step: float32-out GEMMs (bf16 weights and input) for [q | k | v | gate] and
// [a | b]; the prep kernel (conv window continued from the slot + SiLU, l2 norms, g and beta,
// all float32 as on the CPU); chunked WY/UT prefill for multi-token chunks (bf16 tensor-core
// operands) and the fused recurrent step for single tokens (float32 inputs), both writing
// RMSNorm(o) * silu(gate) as bf16; the out_proj GEMM.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "backends/cuda/cuda_context.h"
#include "backends/cuda/device_memory.h"
#include "backends/cuda/plan_upload.h"
#include "backends/cuda/kernels/gated_deltanet_kernels.h"
#include "engine/backend/mixer_backend.h"

namespace junction::cuda {

class CudaGatedDeltaNetLayer : public MixerLayer {
 public:
  // Uploads the weights (bf16 matrices, float32 conv / gates / norm) and allocates
  // context.cache.num_state_slots zeroed slots: conv windows [slots, conv_dim, conv_kernel - 1]
  // and states [slots, Hv, dk, dv], float32. Errors name a missing or misshapen weight.
  static absl::StatusOr<std::unique_ptr<CudaGatedDeltaNetLayer>> Create(
      const LayerContext& context, CudaContext* cuda);

  // Builds the step's work lists (one upload) and grows the scratch buffers. Errors: a chunk
  // without a valid state slot of this layer.
  absl::Status Plan(const StepBatch& batch) override;
  // in/out: [num_tokens, hidden] bf16. Updates the conv window and state of every planned
  // chunk's slot (starting from zeros when the chunk has num_computed == 0).
  void Run(const Activations& in, const Activations& out) override;
  // Decode-only steps (no chunked prefill): the token, request and decode counts and every
  // pointer of the work lists and scratch buffers Run launches with. False with prefill.
  bool AppendGraphKey(std::vector<uint64_t>& key) const override;

  // Device pointers of the slots (tests): [slots, Hv, dk, dv] and [slots, conv_dim, K - 1].
  const float* state() const { return state_.as<float>(); }
  const float* conv_state() const { return conv_state_.as<float>(); }

 private:
  CudaGatedDeltaNetLayer() = default;
  absl::Status LoadWeights(const LayerContext& context);

  CudaContext* cuda_ = nullptr;
  GatedDeltaNetSpec spec_;
  GdnDims dims_;
  int hidden_ = 0;
  int64_t conv_dim_ = 0, value_dim_ = 0, proj_width_ = 0;
  int num_slots_ = 0;
  DeviceArena weights_{0};
  const void* w_proj_ = nullptr;  // [proj_width_, hidden]: q | k | v (conv_dim_) | gate
  const void* w_ab_ = nullptr;    // [2 * Hv, hidden]: a then b
  const void* w_out_ = nullptr;   // [hidden, value_dim_]
  const float* conv_weight_ = nullptr;  // [conv_dim_, conv_kernel]
  const float* a_log_ = nullptr;
  const float* dt_bias_ = nullptr;
  const float* norm_ = nullptr;  // [dv]
  DeviceBuffer state_, conv_state_;
  PlanUpload upload_;  // the per-step work lists
  GdnWork work_;
  const GdnRequest *requests_ = nullptr, *prefill_ = nullptr, *decode_ = nullptr;
  const GdnChunk* chunks_ = nullptr;
  const int32_t* token_request_ = nullptr;
  int num_tokens_ = 0;
  // Scratch, grow-only. mixed_bf16_: the prefill's copy of mixed_; decode_o_ / decode_count_:
  // the decode step's cross-tile norm (the counters zeroed whenever the buffer is new).
  DeviceBuffer proj_, ab_, mixed_, mixed_bf16_, g_, beta_, core_, w_, u_, gamma_, h_, ready_;
  DeviceBuffer decode_o_, decode_count_;
  size_t decode_count_zeroed_ = 0;  // bytes of decode_count_ known to be zero
};

}  // namespace junction::cuda
