// Flash attention over paged KV (FlashAttention-2 style, mma.sync tensor cores, sm_80+): causal
// varlen prefill and split-KV decode in one kernel family, planned on the host (plan once per
// step, run once per layer, FlashInfer style). GQA: the query heads of one kv head are packed
// into the rows of a tile (row = token_in_chunk * group + head_in_group), so K/V tiles are read
// once per group. Online softmax statistics in float32, exp2 with log2(e) folded into the scale.
//
// Windows (sliding window + global "sink" tokens, DESIGN.md §4): a chunk with window W > 0 lets
// the query at cache position p see keys [max(0, p - W + 1), p] plus the sinks [0, SinksEnd(p))
// with SinksEnd(p) = min(num_sinks, max(0, p - W + 1)) (sinks inside the window are ordinary
// keys). A work item visits only its sink tiles and its window tiles, so the cost of a window
// chunk does not depend on the total length, and blocks outside both ranges are never read
// (a window policy may have released them).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/common/dtype.h"

namespace junction::cuda {

// Rows of a decode tile: a chunk whose (tokens x group) fits runs in decode mode, where the 4
// warps of a CTA split each K/V tile between them instead of splitting the query rows.
inline constexpr int kFlashDecodeRows = 16;
// Key tile (and split granularity).
inline constexpr int kFlashKeyTile = 64;

// One request's part of the step, as the kernels see it.
struct FlashChunk {
  int32_t q_start = 0;       // first row of q / o (token index in the step)
  int32_t q_len = 0;         // tokens this step
  int32_t num_computed = 0;  // tokens already cached; query t sits at position num_computed + t
  int32_t block_table_offset = 0;  // into FlashParams::block_tables (-1: a released block)
  int32_t window = 0;     // > 0: the query sees itself and window - 1 earlier keys (+ sinks)
  int32_t num_sinks = 0;  // window > 0: the first num_sinks keys stay visible
};

// One CTA: rows [row_begin, row_begin + tile rows) of (chunk, kv_head) against the sink keys
// [0, sink_end) (scored with FlashParams::q_sink) and then the keys [key_begin, key_end) (scored
// with q); each row masks both spans down to what its position sees. partial >= 0: write
// normalized float32 partial output + log-sum-exp to slot `partial` of the workspace, and the
// last split of merges[merge] to finish combines them into o; otherwise write o directly.
struct FlashWorkItem {
  int32_t chunk = 0;
  int32_t kv_head = 0;
  int32_t row_begin = 0;
  int32_t key_begin = 0;
  int32_t key_end = 0;
  int32_t partial = -1;
  int32_t sink_end = 0;
  int32_t merge = -1;
};

// The `num_splits` partials starting at `first_partial` that make o for (chunk, kv_head).
struct FlashMergeItem {
  int32_t chunk = 0;
  int32_t kv_head = 0;
  int32_t first_partial = 0;
  int32_t num_splits = 0;
};

struct FlashParams {
  const void* q = nullptr;  // [num_tokens, num_heads, head_dim]
  // [num_tokens, num_heads, head_dim]: the query that scores sink keys (StreamingLLM positions:
  // rotated as if the sinks sat just before the window); null = q.
  const void* q_sink = nullptr;
  const void* k_cache = nullptr;  // [num_blocks, block_size, num_kv_heads, head_dim]
  const void* v_cache = nullptr;  // same
  void* o = nullptr;              // [num_tokens, num_heads, head_dim]
  float* partial_o = nullptr;     // [num_partials, kFlashDecodeRows, head_dim]
  float* partial_lse = nullptr;   // [num_partials, kFlashDecodeRows] (log2 units)
  const FlashChunk* chunks = nullptr;
  const int32_t* block_tables = nullptr;
  const FlashWorkItem* items = nullptr;  // prefill-mode or decode-mode items
  int num_items = 0;
  const FlashMergeItem* merges = nullptr;
  int num_merges = 0;
  // [num_merges], zero between launches: each split counts itself in, and the last one to
  // arrive merges and puts the counter back to zero (so graph replays find it zero too).
  int32_t* merge_counters = nullptr;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int block_size = 0;
  // Blocks in k_cache / v_cache: the bound of the Hopper prefill's tensor maps (0 = unknown,
  // which keeps that kernel on its cp.async producer).
  int num_blocks = 0;
  float scale = 0.0f;  // softmax scale (1/sqrt(head_dim) usually)
};

// Head dims with kernels: 16, 64, 128. dtype: kBF16 or kF16. Returns false for an unsupported
// head dim (nothing is launched).
bool FlashHeadDimSupported(int head_dim);
// Rows per prefill-mode tile for a head dim (the planner's tile height).
int FlashPrefillRows(int head_dim);
// Which kernel LaunchFlashPrefill runs. kPortable: the mma.sync kernel. The Hopper wgmma kernel
// of flash_prefill_sm90.h wherever FlashPrefillSm90Supported (else mma.sync): kSm90 with its
// cp.async producer, kSm90Tma with K/V loaded by the tensor memory accelerator (the cp.async
// producer where TMA cannot serve, see FlashPrefillSm90TmaUnavailable), both with the
// intra-warpgroup overlap schedule; kSm90TmaPingPong adds the warpgroup ping-pong. kAuto: the
// Hopper kernel's default variant (flash_attention.cu) for d = 64 and 128 on sm_90, mma.sync
// otherwise.
// Tests and benchmarks compare them.
enum class FlashPrefillImpl { kAuto, kPortable, kSm90, kSm90Tma, kSm90TmaPingPong };
// Enqueues the prefill-mode kernel over p.items.
void LaunchFlashPrefill(const FlashParams& p, DType dtype, cudaStream_t stream,
                        FlashPrefillImpl impl = FlashPrefillImpl::kAuto);
// Enqueues the decode-mode kernel over p.items (splits merge in the same launch).
void LaunchFlashDecode(const FlashParams& p, DType dtype, cudaStream_t stream);
// Resident decode CTAs per SM (for split planning).
int FlashDecodeCtasPerSm(int head_dim);

}  // namespace junction::cuda
