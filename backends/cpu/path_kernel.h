// PaTH attention (fla path_attn; DESIGN.md §4) for one request on the CPU, float32.
// Per kv head, H_t = I - beta_t w_t w_t^T (w_t unit, beta_t in (0, 2)); the score of query i
// against key j <= i is a_ij = q_i^T H_i H_{i-1} ... H_{j+1} k_j, and the logit is
// scale * (a_ij + F_i - F_j), F_i = sum_{t <= i} log_gate_t per query head (0 without the
// forget gate). Query head h reads kv head h / (H / H_kv).
//
// The paged cache keeps every key already transformed to the newest position:
// k~_j = H_{n-1} ... H_{j+1} k_j after n tokens, so a query only needs the transforms of its own
// chunk. PaTH key blocks are never shared between requests (they change every step).
#pragma once

#include <cstdint>

#include "engine/common/ids.h"

namespace junction::cpu {

// One PaTH layer's paged storage. K and V: [num_blocks, block_size, num_kv_heads, head_dim];
// F: [num_blocks, block_size, num_heads] (null without the forget gate).
struct PathCache {
  float* k = nullptr;
  float* v = nullptr;
  float* f = nullptr;
  int block_size = 16;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;

  float* KeyAt(const BlockId* table, int position, int kv_head) const {
    return k + Offset(table, position) * num_kv_heads * head_dim +
           static_cast<int64_t>(kv_head) * head_dim;
  }
  float* ValueAt(const BlockId* table, int position, int kv_head) const {
    return v + Offset(table, position) * num_kv_heads * head_dim +
           static_cast<int64_t>(kv_head) * head_dim;
  }
  float* ForgetAt(const BlockId* table, int position) const {  // [num_heads]
    return f + Offset(table, position) * num_heads;
  }

 private:
  int64_t Offset(const BlockId* table, int position) const {
    return static_cast<int64_t>(table[position / block_size].value) * block_size +
           position % block_size;
  }
};

// One request's chunk: tokens [num_computed, num_computed + num_tokens) of its sequence.
struct PathChunk {
  int num_tokens = 0;
  int num_computed = 0;                  // tokens already in the cache
  const BlockId* block_table = nullptr;  // covers num_computed + num_tokens positions
  const float* q = nullptr;              // [num_tokens, num_heads, head_dim]
  const float* k = nullptr;              // [num_tokens, num_kv_heads, head_dim], untransformed
  const float* v = nullptr;              // [num_tokens, num_kv_heads, head_dim]
  const float* w = nullptr;              // [num_tokens, num_kv_heads, head_dim], unit rows
  const float* beta = nullptr;           // [num_tokens, num_kv_heads]
  const float* log_gate = nullptr;       // [num_tokens, num_heads] logsigmoid(g_proj x); null: none
  float scale = 1.0f;
};

// Attends the chunk's queries to the cache and the chunk, writes out [num_tokens, num_heads,
// head_dim], and leaves the cache holding all num_computed + num_tokens keys transformed to the
// newest position (with V and F). Picks the method by shape:
//   num_computed == 0: each query carried backward through the transforms (exact, O(T^2 d));
//   num_tokens == 1: in-place rank-one update of the cached keys, then plain decode;
//   otherwise: the UT-transform "extend" recipe over sub-chunks of at most 64 tokens.
// Parallel inside (OpenMP). Not thread-safe for one cache.
void PathAttend(const PathCache& cache, const PathChunk& chunk, float* out);

// The three methods, exposed for tests (PathAttend's preconditions apply to each).
void PathPrefill(const PathCache& cache, const PathChunk& chunk, float* out);
void PathDecode(const PathCache& cache, const PathChunk& chunk, float* out);
void PathExtend(const PathCache& cache, const PathChunk& chunk, float* out, int max_sub_chunk);

}  // namespace junction::cpu
