// CpuPathLayer: the PaTH attention mixer on the CPU (fla path_attn; DESIGN.md §4). Per step:
//   q, k, v = projections; w = l2norm(silu(conv(w_proj x))) per kv head (conv window continued
//   from the request's state slot; low-rank w_proj hidden -> 32 -> kv_dim, or one matrix);
//   beta = 2 sigmoid(bt_proj x); log gate = logsigmoid(g_proj x) per head (forget gate);
//   o = PaTH attention over the paged cache (backends/cpu/path_kernel.h); out = o_proj o.
#pragma once

#include <vector>

#include "backends/cpu/path_kernel.h"
#include "engine/backend/mixer_backend.h"

namespace junction::cpu {

struct PathWeights {
  const float* q = nullptr;        // [H * d, hidden]
  const float* k = nullptr;        // [H_kv * d, hidden]
  const float* v = nullptr;        // [H_kv * d, hidden]
  const float* o = nullptr;        // [hidden, H * d]
  const float* o_bias = nullptr;   // [hidden] when stored
  const float* w_down = nullptr;   // [w_rank, hidden] (low-rank w_proj.0), else null
  const float* w = nullptr;        // [H_kv * d, w_rank or hidden] (w_proj.1 or w_proj)
  std::vector<float> w_conv;       // [H_kv * d, conv_kernel] when use_w_shortconv
  const float* bt = nullptr;       // [H_kv, hidden]
  const float* bt_bias = nullptr;  // [H_kv]
  const float* g = nullptr;        // [H, hidden] with the forget gate
  const float* g_bias = nullptr;   // [H]
};

// Errors name the missing or misshapen weight.
absl::StatusOr<PathWeights> LoadPathWeights(const LayerContext& context, const PathSpec& spec);

class CpuPathLayer : public MixerLayer {
 public:
  // Allocates the paged K/V [num_blocks, block_size, H_kv, d], F [num_blocks, block_size, H]
  // (forget gate) and, with the w short conv, windows [num_state_slots, H_kv * d, K - 1].
  CpuPathLayer(const LayerContext& context, const PathSpec& spec, PathWeights weights);

  // Errors: a block table too short for the chunk, a window policy, a missing state slot.
  absl::Status Plan(const StepBatch& batch) override;
  // Rewrites every cached key of the planned requests (they are transformed each step).
  void Run(const Activations& in, const Activations& out) override;

 private:
  void Project(const float* x, int num_tokens);
  // w of one chunk's rows: conv (from the slot's window) + SiLU, then l2norm per kv head.
  void PrepareW(const ScheduledChunk& chunk);

  const ModelSpec& model_;
  PathSpec spec_;
  PathWeights weights_;
  int kv_dim_ = 0;
  int num_slots_ = 0;
  std::vector<float> k_cache_, v_cache_, f_cache_;
  std::vector<float> conv_state_;  // [slots, kv_dim, K - 1], oldest input first
  PathCache cache_;
  const StepBatch* batch_ = nullptr;
  // Scratch reused across steps.
  std::vector<float> q_, k_, v_, w_low_, w_raw_, w_, beta_, log_gate_, attended_;
};

}  // namespace junction::cpu
