// CpuGatedDeltaNetLayer: the Gated DeltaNet mixer on the CPU (DESIGN.md §4), in Qwen3.5's or
// fla's weight layout (GatedDeltaNetSpec::fused_qkv). Per step and request:
//   [q|k|v] = proj x -> causal depthwise conv (window continued from the state slot) -> SiLU;
//   g = -exp(A_log) softplus(a_proj x + dt_bias); beta = beta_scale sigmoid(b_proj x);
//   o = gated delta rule (chunked WY/UT form for prefill chunks, the recurrence for one token);
//   o = RMSNorm per value head (w or 1 + w) * silu(gate x); out = out_proj o.
#pragma once

#include <vector>

#include "backends/cpu/gated_deltanet_kernel.h"
#include "engine/backend/mixer_backend.h"

namespace junction::cpu {

struct GatedDeltaNetWeights {
  // Projections into the conv input [q | k | v] (conv_dim = 2 * Hk * dk + Hv * dv wide): one
  // fused [conv_dim, hidden] matrix (Qwen3.5) or three (fla), each with its column offset.
  struct Projection {
    const float* w = nullptr;  // [rows, hidden]
    int rows = 0;
    int offset = 0;
  };
  std::vector<Projection> qkv;
  std::vector<float> conv;       // [conv_dim, conv_kernel], copied from the stored [conv_dim, 1, K]
  const float* a = nullptr;      // [Hv, hidden]
  const float* b = nullptr;      // [Hv, hidden]
  const float* gate = nullptr;   // [Hv * dv, hidden], null without the output gate
  const float* a_log = nullptr;  // [Hv]
  const float* dt_bias = nullptr;  // [Hv]
  const float* norm = nullptr;     // [dv]
  const float* out = nullptr;      // [hidden, Hv * dv]
};

// Errors name the missing or misshapen weight.
absl::StatusOr<GatedDeltaNetWeights> LoadGatedDeltaNetWeights(const LayerContext& context,
                                                              const GatedDeltaNetSpec& spec);

class CpuGatedDeltaNetLayer : public MixerLayer {
 public:
  // Allocates context.cache.num_state_slots slots: conv windows [slots, conv_dim, K - 1] and
  // states [slots, Hv, dk, dv], float32.
  CpuGatedDeltaNetLayer(const LayerContext& context, const GatedDeltaNetSpec& spec,
                        GatedDeltaNetWeights weights);

  // Errors: a chunk without a valid state slot of this layer.
  absl::Status Plan(const StepBatch& batch) override;
  // Updates the conv window and state of every planned chunk's slot (zeroed first when the chunk
  // has num_computed == 0).
  void Run(const Activations& in, const Activations& out) override;

 private:
  // Causal conv + SiLU (or SiLU only) of the chunk's rows of mixed_ into conv_out_.
  void ConvolveChunk(const ScheduledChunk& chunk, float* window);
  void GateAndDecay(int num_tokens, const float* x);
  void NormalizeAndGate(int num_tokens);

  const ModelSpec& model_;
  GatedDeltaNetSpec spec_;
  GatedDeltaNetWeights weights_;
  GdnShape shape_;
  int key_dim_ = 0, value_dim_ = 0, conv_dim_ = 0;
  int num_slots_ = 0;
  std::vector<float> conv_state_;  // [slots, conv_dim, K - 1], oldest input first
  std::vector<float> ssm_state_;   // [slots, Hv, dk, dv]
  const StepBatch* batch_ = nullptr;
  // Scratch reused across steps.
  std::vector<float> mixed_, conv_out_, gate_, a_, b_, g_, beta_, core_;
};

}  // namespace junction::cpu
