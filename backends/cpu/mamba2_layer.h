// CpuMamba2Layer: the Mamba2 mixer on the CPU (DESIGN.md §4).
//   in_proj x -> z [I] | xBC [I + 2GN] | dt [nh]; xBC <- silu(causal_conv(xBC) + bias);
//   x -> [nh, P], B, C -> [G, N] (head h reads group h / (nh / G));
//   dt <- clamp(softplus(dt + dt_bias), dt_min, dt_max); A = -exp(A_log);
//   y <- SSD(x, dt, A, B, C) + D x; y <- rmsnorm(y * silu(z)) * w (over I, or per group of I/G);
//   out = out_proj y.
// Prefill chunks run the chunked SSD scan (Mamba2Spec::chunk_size), single tokens the recurrence.
//
// State slots (owned by the layer, sized by CacheGeometry::num_state_slots), float32:
//   conv_state [num_state_slots, K-1, conv_dim]  the last K-1 xBC inputs before the conv, oldest
//                                                first (conv_dim = I + 2GN)
//   ssm_state  [num_state_slots, nh, P, N]
// ScheduledChunk::state_slot selects the slot; num_computed == 0 zeroes it first.
#pragma once

#include <vector>

#include "engine/backend/mixer_backend.h"

namespace junction::cpu {

struct Mamba2Weights {
  const float* in_proj = nullptr;        // [2I + 2GN + nh, hidden]
  const float* in_proj_bias = nullptr;   // [2I + 2GN + nh] or null
  const float* conv = nullptr;           // [conv_dim, 1, K]
  const float* conv_bias = nullptr;      // [conv_dim] or null
  const float* dt_bias = nullptr;        // [nh]
  const float* a_log = nullptr;          // [nh]
  const float* d = nullptr;              // [nh]
  const float* norm = nullptr;           // [I]
  const float* out_proj = nullptr;       // [hidden, I]
  const float* out_proj_bias = nullptr;  // [hidden] or null
};

// Reads `<prefix>{in_proj,conv1d,dt_bias,A_log,D,norm,out_proj}` with checked shapes.
absl::StatusOr<Mamba2Weights> LoadMamba2Weights(const LayerContext& context,
                                                const Mamba2Spec& spec);

class CpuMamba2Layer : public MixerLayer {
 public:
  CpuMamba2Layer(const LayerContext& context, const Mamba2Spec& spec, Mamba2Weights weights);

  // Errors: a chunk without a valid state slot, or a slot beyond the layer's storage.
  absl::Status Plan(const StepBatch& batch) override;
  void Run(const Activations& in, const Activations& out) override;

  int conv_dim() const { return conv_dim_; }

 private:
  // Runs the SSD scan of one chunk (request) into y_ rows [first_token, +num_tokens).
  void Scan(const ScheduledChunk& chunk, int head);
  // y_ <- rmsnorm(y_ * silu(z)) * w for every token.
  void GatedNorm(int num_tokens);

  const ModelSpec& model_;
  Mamba2Spec spec_;
  Mamba2Weights weights_;
  int conv_dim_ = 0;
  int proj_width_ = 0;
  int num_state_slots_ = 0;
  std::vector<float> a_;           // [nh] A = -exp(A_log)
  std::vector<float> conv_state_;  // [num_state_slots, K-1, conv_dim]
  std::vector<float> ssm_state_;   // [num_state_slots, nh, P, N]
  const StepBatch* batch_ = nullptr;
  // Scratch reused across steps: projections, conv output, dt, SSD output.
  std::vector<float> proj_, xbc_, dt_, y_;
};

}  // namespace junction::cpu
