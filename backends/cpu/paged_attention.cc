#include "backends/cpu/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/common/check.h"

namespace junction::cpu {
namespace {

struct OnlineSoftmax {
  float max = -std::numeric_limits<float>::infinity();
  float sum = 0.0f;
};

// Folds keys [begin, end) (cache positions) into the running softmax and accumulator.
void AttendSpan(const float* q, const PagedKv& kv, int kv_head, BlockTableView table, int begin,
                int end, float scale, OnlineSoftmax& state, float* acc) {
  const int d = kv.head_dim;
  float scores[64];
  for (int tile = begin; tile < end;) {
    const int block = tile / kv.block_size;
    const int first = tile % kv.block_size;
    const int count = std::min({end - tile, kv.block_size - first, 64});
    JUNCTION_CHECK(block < table.num_blocks, "key %d is beyond the block table (%d blocks)", tile,
                   table.num_blocks);
    const BlockId id = table.ids[block];
    JUNCTION_CHECK(id.valid(), "visible key %d lies in released block %d", tile, block);
    float tile_max = state.max;
    for (int j = 0; j < count; ++j) {
      const float* k = kv.KeyAt(id, first + j, kv_head);
      float dot = 0;
#pragma omp simd reduction(+ : dot)
      for (int i = 0; i < d; ++i) dot += q[i] * k[i];
      scores[j] = dot * scale;
      tile_max = std::max(tile_max, scores[j]);
    }
    // Rescale what was accumulated under the old maximum.
    const float correction = std::exp(state.max - tile_max);
    state.sum *= correction;
    for (int i = 0; i < d; ++i) acc[i] *= correction;
    for (int j = 0; j < count; ++j) {
      const float p = std::exp(scores[j] - tile_max);
      state.sum += p;
      const float* v = kv.ValueAt(id, first + j, kv_head);
#pragma omp simd
      for (int i = 0; i < d; ++i) acc[i] += p * v[i];
    }
    state.max = tile_max;
    tile += count;
  }
}

}  // namespace

void AttendOneHead(const float* q, const float* q_sinks, const PagedKv& kv, int kv_head,
                   BlockTableView table, int query_position, KeyRange range, float scale,
                   float* out) {
  const int d = kv.head_dim;
  OnlineSoftmax state;
  for (int i = 0; i < d; ++i) out[i] = 0.0f;
  // Released blocks lie strictly between the sinks and the window: neither span touches them.
  const int window_begin = range.WindowBegin(query_position);
  const int sinks_end = range.SinksEnd(query_position);
  if (sinks_end > 0) AttendSpan(q_sinks, kv, kv_head, table, 0, sinks_end, scale, state, out);
  AttendSpan(q, kv, kv_head, table, window_begin, query_position + 1, scale, state, out);
  const float inv = state.sum > 0 ? 1.0f / state.sum : 0.0f;
  for (int i = 0; i < d; ++i) out[i] *= inv;
}

}  // namespace junction::cpu
