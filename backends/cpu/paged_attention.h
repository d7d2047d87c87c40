// The CPU "flash" attention kernel: one query against keys read from paged KV blocks, tiled by
// block with an online softmax (running max and sum), never forming the score matrix. Serves
// full causal attention and sliding-window + global ("sinks") attention.
#pragma once

#include <algorithm>
#include <cstdint>

#include "engine/common/ids.h"

namespace junction::cpu {

// One layer's KV storage: K and V are each [num_blocks, block_size, num_kv_heads, head_dim].
struct PagedKv {
  float* k = nullptr;
  float* v = nullptr;
  int block_size = 16;
  int num_kv_heads = 0;
  int head_dim = 0;

  float* KeyAt(BlockId block, int offset, int kv_head) const {
    return k +
           ((static_cast<int64_t>(block.value) * block_size + offset) * num_kv_heads + kv_head) *
               head_dim;
  }
  float* ValueAt(BlockId block, int offset, int kv_head) const {
    return v +
           ((static_cast<int64_t>(block.value) * block_size + offset) * num_kv_heads + kv_head) *
               head_dim;
  }
};

// Keys a query at cache position p sees: [0, num_sinks) and [p - window + 1, p]; window = 0
// means every key in [0, p] (causal full attention; num_sinks is then irrelevant).
struct KeyRange {
  int window = 0;
  int num_sinks = 0;

  // First key of the window of a query at `query_position`.
  int WindowBegin(int query_position) const {
    return window > 0 ? std::max(0, query_position - window + 1) : 0;
  }
  // Sink keys that lie before the window are [0, SinksEnd(p)); empty while the window still
  // reaches back to them.
  int SinksEnd(int query_position) const {
    return std::min(num_sinks, WindowBegin(query_position));
  }
};

// A request's block table: logical block i -> physical block. Blocks released by a window
// policy hold BlockId{} (invalid) and must never be read.
struct BlockTableView {
  const BlockId* ids = nullptr;
  int num_blocks = 0;
};

// out[head_dim] = softmax_j(scale * q_j . k_j) v_j over the visible keys j of `kv_head`, where
// q_j is `q_sinks` for the sink keys before the window ([0, SinksEnd)) and `q` for every other
// key (pass q_sinks == q when sinks keep their true positions). Reads only visible keys; aborts
// (JUNCTION_CHECK) if a visible key lies in a released block or beyond the table. q, q_sinks and
// out are [head_dim]; out may not alias either query. Thread-safe for distinct `out`.
void AttendOneHead(const float* q, const float* q_sinks, const PagedKv& kv, int kv_head,
                   BlockTableView table, int query_position, KeyRange range, float scale,
                   float* out);

}  // namespace junction::cpu
