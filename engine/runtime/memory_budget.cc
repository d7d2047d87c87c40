#include "engine/runtime/memory_budget.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace junction {
namespace {

int64_t I64(int v) { return static_cast<int64_t>(v); }

}  // namespace

int64_t KvBytesPerBlock(const ModelSpec& spec, int block_size, int bytes_per_element) {
  int64_t total = 0;
  for (const LayerSpec& layer : spec.layers) {
    if (!layer.mixer) continue;
    int64_t kv_width = 0;
    if (const auto* a = std::get_if<AttentionSpec>(&layer.mixer->params))
      kv_width = I64(a->num_kv_heads) * a->head_dim;
    if (const auto* p = std::get_if<PathSpec>(&layer.mixer->params))
      kv_width = I64(p->num_kv_heads) * p->head_dim;
    total += I64(block_size) * kv_width * 2 * bytes_per_element;
  }
  return total;
}

int64_t StateBytesPerSlot(const ModelSpec& spec) {
  int64_t floats = 0;
  for (const LayerSpec& layer : spec.layers) {
    if (!layer.mixer) continue;
    if (const auto* m = std::get_if<Mamba2Spec>(&layer.mixer->params)) {
      const int64_t inner = m->inner_size > 0 ? m->inner_size : I64(m->num_heads) * m->head_dim;
      const int64_t conv_dim = inner + 2 * I64(m->num_groups) * m->state_size;
      floats += conv_dim * m->conv_kernel + I64(m->num_heads) * m->head_dim * m->state_size;
    } else if (const auto* g = std::get_if<GatedDeltaNetSpec>(&layer.mixer->params)) {
      const int64_t conv_dim =
          2 * I64(g->num_key_heads) * g->head_k_dim + I64(g->num_value_heads) * g->head_v_dim;
      floats += conv_dim * g->conv_kernel + I64(g->num_value_heads) * g->head_k_dim * g->head_v_dim;
    } else if (const auto* p = std::get_if<PathSpec>(&layer.mixer->params)) {
      if (p->w_shortconv) floats += I64(p->num_kv_heads) * p->head_dim * p->conv_kernel;
      if (p->forget_gate) floats += p->num_heads;
    }
  }
  return floats * 4;
}

bool NeedsStateSlots(const ModelSpec& spec) {
  if (spec.NumLayersWithState() > 0) return true;
  for (const LayerSpec& layer : spec.layers)
    if (layer.mixer && layer.mixer->kind == MixerKind::kPath) return true;
  return false;
}

absl::StatusOr<MemoryBudget> ComputeMemoryBudget(const ModelSpec& spec,
                                                 const MemoryBudgetInput& input) {
  if (input.block_size <= 0 || input.max_num_seqs <= 0)
    return absl::InvalidArgumentError("block size and max_num_seqs must be positive");
  MemoryBudget out;
  out.geometry.block_size = input.block_size;
  out.bytes_per_block = KvBytesPerBlock(spec, input.block_size);
  out.bytes_per_slot = NeedsStateSlots(spec) ? std::max<int64_t>(StateBytesPerSlot(spec), 4) : 0;
  const int64_t context = std::max(spec.max_context, 1);
  const int64_t blocks_per_seq = (context + input.block_size - 1) / input.block_size;
  const int64_t max_useful_blocks = blocks_per_seq * input.max_num_seqs;
  int64_t budget = input.kv_memory_bytes;
  if (budget <= 0) {
    budget = kDefaultCpuKvMemoryBytes;
    // The default never exceeds what max_num_seqs requests of the full context need.
    budget = std::min(budget, max_useful_blocks * out.bytes_per_block +
                                  I64(input.max_num_seqs) * out.bytes_per_slot);
  }
  out.budget_bytes = budget;
  int64_t slots = 0;
  if (out.bytes_per_slot > 0) {
    // Slots first (one per sequence), but leave room for at least one block per slot.
    const int64_t per_pair = out.bytes_per_slot + out.bytes_per_block;
    slots = std::min<int64_t>(input.max_num_seqs, budget / std::max<int64_t>(per_pair, 1));
    if (slots < 1)
      return absl::ResourceExhaustedError(absl::StrCat(
          "the memory budget (", budget, " bytes) cannot hold one state slot (", out.bytes_per_slot,
          " bytes) and one KV block (", out.bytes_per_block, " bytes)"));
  }
  int64_t blocks = 0;
  if (out.bytes_per_block > 0) {
    blocks = (budget - slots * out.bytes_per_slot) / out.bytes_per_block;
    blocks = std::min(blocks, max_useful_blocks);
    blocks = std::min<int64_t>(blocks, int64_t{1} << 30);
    if (blocks < 1)
      return absl::ResourceExhaustedError(absl::StrCat("the memory budget (", budget,
                                                       " bytes) cannot hold one KV block (",
                                                       out.bytes_per_block, " bytes)"));
  }
  out.geometry.num_blocks = static_cast<int>(blocks);
  out.geometry.num_state_slots = static_cast<int>(slots);
  return out;
}

}  // namespace junction
