// Memory sizing (DESIGN.md §6): bytes per KV block and per state slot from a ModelSpec, and the
// cache geometry a memory budget buys. Pure functions; thread-safe.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "engine/backend/mixer_backend.h"
#include "engine/backend/step_batch.h"
#include "engine/model/model_spec.h"

namespace junction {

// The CPU default budget when EngineConfig::kv_memory_bytes is 0 (before the cap below).
inline constexpr int64_t kDefaultCpuKvMemoryBytes = int64_t{1} << 30;

// Bytes one KV block takes over every attention-like layer (kAttention, kSlidingWindow, kPath):
// sum of block_size * num_kv_heads * head_dim * 2 (K and V) * bytes_per_element.
int64_t KvBytesPerBlock(const ModelSpec& spec, int block_size, int bytes_per_element = 4);

// Bytes one request's recurrent state takes over every layer that keeps one: Mamba2 (conv window
// [I + 2GN, K] + SSM state [nh, P, N]), Gated DeltaNet (conv window [2*nk*dk + nv*dv, K] + state
// [nv, dk, dv]) and PaTH (its w short-conv window [kv_dim, K] + forget-gate sums). fp32.
int64_t StateBytesPerSlot(const ModelSpec& spec);

// True when requests need a state slot: some layer keeps per-request recurrent state (Mamba2,
// Gated DeltaNet, or PaTH's short convolution).
bool NeedsStateSlots(const ModelSpec& spec);

struct MemoryBudgetInput {
  int block_size = 16;
  int64_t kv_memory_bytes = 0;  // 0 = the device default
  int max_num_seqs = 256;
  DeviceClass device_class = DeviceClass::kCpu;
};

struct MemoryBudget {
  CacheGeometry geometry;
  int64_t bytes_per_block = 0;
  int64_t bytes_per_slot = 0;
  int64_t budget_bytes = 0;  // the budget that was split (after defaults and caps)
};

// Splits the budget: one state slot per sequence (max_num_seqs, fewer if the budget cannot hold
// them), the rest in KV blocks, capped at what max_num_seqs requests of the full model context
// need. Errors: InvalidArgument for a non-positive block size; ResourceExhausted when the budget
// cannot hold one block and one slot.
absl::StatusOr<MemoryBudget> ComputeMemoryBudget(const ModelSpec& spec,
                                                 const MemoryBudgetInput& input);

}  // namespace junction
