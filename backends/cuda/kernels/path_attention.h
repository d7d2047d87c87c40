// PaTH attention kernels (fla path_attn; DESIGN.md §4) over a layer's paged K/V, bf16 in, fp32
// accumulate (mma.sync.m16n8k16 tensor cores for every tile product). Per kv head,
// H_t = I - beta_t w_t w_t^T; query i scores key j <= i with q_i^T H_i ... H_{j+1} k_j, the
// logit is scale * (score + F_i - F_j) (F = running sum of log forget gates, 0 without).
// The cache keeps every key transformed to the newest position (backends/cpu/path_kernel.h).
//
// Prefill / extend (a chunk of T tokens after num_computed cached ones), in launch order:
//   store:   V rows into the cache, F = cumsum(log gate) into a [T, H] buffer and the F cache;
//   prep:    per 64-token UT block and kv head: T_b = (I + strict_lower(diag(beta) W W^T))^-1
//            diag(beta) in fp32, then (bf16, into the plan's workspace) W, W2 = T_b W,
//            W3 = T_b^T W, M = T_b strict_lower(W K^T) and K' = K - M^T W (keys carried to the
//            end of their own block);
//   prefill: per (query block b, query head): intra block with
//            S = tril(Q K^T - tril(Q W^T) M), q^ = Q - tril(Q W^T) W2, then blocks b-1 .. 0 with
//            S = q^ K'^T and q^ <- q^ - (q^ W^T) W2, then the cache tiles with S = q^ k~^T;
//            online softmax in fp32 (exp2), O += P V;
//   finalize: every cached key and every chunk key K' carried forward through the later chunk
//            blocks (k <- k P_b, P_b = I - W_b^T W3_b) and written to the cache. By default
//            (kSuffix) in O(n d^2): one CTA per (chunk, kv head, 64 rows) walks the blocks
//            backward once and writes each suffix product Q_b = P_b ... P_last (transposed, bf16,
//            [D][D] per block) to the workspace; then every key tile is one [64 x D] x [D x D]
//            product (block c with Q_{c+1}, cached keys with Q_0, the last block as is). kCarry
//            carries each tile through every later block instead, O(n^2 d).
// Decode (one token after a non-empty cache; path_decode.cu): one pass per (request, kv head,
// key split) that reads each cached key, updates it in place (k <- k - beta (k.w) w in fp32,
// written back in bf16), scores it with q.k_new = q.k - beta (k.w)(q.w) for every query head of
// the group (q.k and k.w from one tensor-core product), reads V, and appends the new key;
// split-KV partials are merged by a second kernel.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/common/dtype.h"

namespace junction::cuda {

inline constexpr int kPathBlock = 64;    // tokens per UT block; query tile = key tile
inline constexpr int kPathMaxGroup = 8;  // query heads per kv head served by decode

// One request's part of the step, as the kernels see it.
struct PathChunkDesc {
  int32_t q_start = 0;             // first token row of the step
  int32_t q_len = 0;               // tokens this step
  int32_t num_computed = 0;        // tokens already cached (positions of this chunk start here)
  int32_t block_table_offset = 0;  // into PathParams::block_tables
  int32_t first_block = 0;         // prefill-mode chunks: first UT block in the workspace
  int32_t state_slot = 0;          // conv window slot (w short conv), else 0
};

// A (chunk, UT block) pair: block `block` covers tokens [64 block, 64 block + 64) of the chunk.
// Prefill items use it as the query block; finalize items as the key tile: tile < number of
// cache tiles (ceil(num_computed / 64)) names cache positions [64 tile, 64 tile + 64), else
// chunk block tile - cache tiles.
struct PathTileItem {
  int32_t chunk = 0;
  int32_t tile = 0;
};

// Decode keys [key_begin, key_end) of the request's positions [0, num_computed] (the last one
// is the new token). partial >= 0: write to partial slot partial * num_kv_heads + kv_head.
struct PathDecodeItem {
  int32_t chunk = 0;
  int32_t key_begin = 0;
  int32_t key_end = 0;
  int32_t partial = -1;
};

struct PathMergeItem {
  int32_t chunk = 0;
  int32_t first_partial = 0;
  int32_t num_splits = 0;
};

struct PathParams {
  // Step inputs (device).
  const void* qkv = nullptr;        // [num_tokens, qkv_stride]: q heads | k heads | v heads (bf16)
  int64_t qkv_stride = 0;           // elements per row
  const float* w = nullptr;         // [num_tokens, num_kv_heads, head_dim], unit rows
  const float* beta = nullptr;      // [num_tokens, num_kv_heads], in (0, 2)
  const float* log_gate = nullptr;  // [num_tokens, num_heads] logsigmoid(g); null: no gate
  float* forget = nullptr;          // [num_tokens, num_heads] scratch (F of each token); gate only
  void* o = nullptr;                // [num_tokens, num_heads, head_dim] (bf16)
  // The layer's cache.
  void* k_cache = nullptr;   // [num_blocks, block_size, num_kv_heads, head_dim] bf16
  void* v_cache = nullptr;   // same
  float* f_cache = nullptr;  // [num_blocks, block_size, num_heads]; gate only
  // The plan (PathPlan).
  const PathChunkDesc* chunks = nullptr;
  int num_chunks = 0;
  const int32_t* block_tables = nullptr;
  const int64_t* slots = nullptr;        // [num_tokens] cache row of each token
  const PathTileItem* blocks = nullptr;  // UT blocks (tile = block index in the chunk)
  int num_blocks = 0;
  const PathTileItem* prefill_items = nullptr;
  int num_prefill_items = 0;
  const PathTileItem* finalize_items = nullptr;
  int num_finalize_items = 0;
  const PathDecodeItem* decode_items = nullptr;
  int num_decode_items = 0;
  const PathMergeItem* merges = nullptr;
  int num_merges = 0;
  // Workspace: per UT block and kv head, [64, head_dim] bf16 tiles and a [64, 64] M.
  void* ws_k = nullptr;   // K'
  void* ws_w = nullptr;   // W
  void* ws_w2 = nullptr;  // T W
  void* ws_w3 = nullptr;  // T^T W
  void* ws_m = nullptr;   // T strict_lower(W K^T)
  void* ws_r = nullptr;   // Q_b^T, [head_dim][head_dim] per UT block and kv head (kSuffix)
  const int32_t* suffix_chunks = nullptr;  // the prefill-mode chunks, longest first
  int num_suffix_chunks = 0;
  float* partial_o = nullptr;    // [partial slots, group, head_dim]
  float* partial_lse = nullptr;  // [partial slots, group] (log2 units)
  int num_tokens = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int block_size = 0;
  float scale = 0.0f;
};

// Head dims with kernels (bf16 only).
bool PathHeadDimSupported(int head_dim);
// Elements of one [64, head_dim] workspace tile (per UT block and kv head): the plan sizes ws_*
// with it (ws_r holds head_dim / 64 of them per block and kv head).
int64_t PathTileElems(int head_dim);

// How finalize transforms the keys (see the top of this file).
enum class PathFinalizeImpl { kSuffix, kCarry };

// Each enqueues its kernels on `stream` (nothing when it has no items) and never synchronizes.
// LaunchPathAttention = Store, Prep, Prefill, Decode, Finalize in that order (the order matters:
// prefill reads the cached keys that finalize rewrites; decode touches only decode requests).
void LaunchPathStore(const PathParams& p, cudaStream_t stream);
void LaunchPathPrep(const PathParams& p, cudaStream_t stream);
void LaunchPathPrefill(const PathParams& p, cudaStream_t stream);
void LaunchPathDecode(const PathParams& p, cudaStream_t stream);
void LaunchPathFinalize(const PathParams& p, cudaStream_t stream,
                        PathFinalizeImpl impl = PathFinalizeImpl::kSuffix);
void LaunchPathAttention(const PathParams& p, cudaStream_t stream,
                         PathFinalizeImpl impl = PathFinalizeImpl::kSuffix);

// The layer's w / beta / log-gate preparation (fla's w_proj -> short conv -> l2norm, bt_proj,
// g_proj), from one float32 projection row per token.
struct PathPrepareWParams {
  const float* aux = nullptr;  // [num_tokens, aux_stride]: w columns | bt logits | g logits
  int64_t aux_stride = 0;
  int w_cols = 0;               // w_rank (low rank) or kv_dim
  const float* w_up = nullptr;  // [kv_dim, w_rank] (low rank) or null (aux holds w directly)
  const float* conv = nullptr;  // [kv_dim, conv_kernel] or null (no short conv)
  int conv_kernel = 0;
  float* conv_state = nullptr;     // [num_slots, kv_dim, conv_kernel - 1], oldest input first
  const float* bt_bias = nullptr;  // [num_kv_heads]
  const float* g_bias = nullptr;   // [num_heads] (gate) or null
  float* w = nullptr;              // out [num_tokens, kv_dim]
  float* beta = nullptr;           // out [num_tokens, num_kv_heads]
  float* log_gate = nullptr;       // out [num_tokens, num_heads] or null (no gate)
  const PathChunkDesc* chunks = nullptr;
  const int32_t* token_chunks = nullptr;  // [num_tokens]
  int num_chunks = 0;
  int num_tokens = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
};
// Writes w, beta, log_gate; then (second kernel) moves each chunk's conv window forward.
void LaunchPathPrepareW(const PathPrepareWParams& p, cudaStream_t stream);

}  // namespace junction::cuda
