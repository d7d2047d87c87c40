// The CPU "flash" attention kernel: one query against keys read from paged KV blocks, tiled by
// block with an online softmax (running max and sum), never forming the score matrix.
#pragma once

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
    return k + ((static_cast<int64_t>(block.value) * block_size + offset) * num_kv_heads +
                kv_head) * head_dim;
  }
  float* ValueAt(BlockId block, int offset, int kv_head) const {
    return v + ((static_cast<int64_t>(block.value) * block_size + offset) * num_kv_heads +
                kv_head) * head_dim;
  }
};

// Keys a query at cache position p sees: [0, num_sinks) and [p - window + 1, p]; window = 0
// means every key in [0, p] (causal full attention).
struct KeyRange {
  int window = 0;
  int num_sinks = 0;
};

// out[head_dim] = softmax_j(scale * q . k_j) v_j over the visible keys j of `kv_head`, reading
// block_table[j / block_size]. q and out are [head_dim]; they may not alias.
void AttendOneHead(const float* q, const PagedKv& kv, int kv_head, const BlockId* block_table,
                   int query_position, KeyRange range, float scale, float* out);

}  // namespace junction::cpu
