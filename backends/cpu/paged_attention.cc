#include "backends/cpu/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace junction::cpu {
namespace {

struct OnlineSoftmax {
  float max = -std::numeric_limits<float>::infinity();
  float sum = 0.0f;
};

// Folds keys [begin, end) (cache positions) into the running softmax and accumulator.
void AttendSpan(const float* q, const PagedKv& kv, int kv_head, const BlockId* block_table,
                int begin, int end, float scale, OnlineSoftmax& state, float* acc) {
  const int d = kv.head_dim;
  float scores[64];
  for (int tile = begin; tile < end;) {
    const int block = tile / kv.block_size;
    const int first = tile % kv.block_size;
    const int count = std::min({end - tile, kv.block_size - first, 64});
    const BlockId id = block_table[block];
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

void AttendOneHead(const float* q, const PagedKv& kv, int kv_head, const BlockId* block_table,
                   int query_position, KeyRange range, float scale, float* out) {
  const int d = kv.head_dim;
  OnlineSoftmax state;
  for (int i = 0; i < d; ++i) out[i] = 0.0f;
  int window_begin = 0;
  if (range.window > 0) window_begin = std::max(0, query_position - range.window + 1);
  const int sinks_end = std::min(range.num_sinks, window_begin);
  if (sinks_end > 0) AttendSpan(q, kv, kv_head, block_table, 0, sinks_end, scale, state, out);
  AttendSpan(q, kv, kv_head, block_table, window_begin, query_position + 1, scale, state, out);
  const float inv = state.sum > 0 ? 1.0f / state.sum : 0.0f;
  for (int i = 0; i < d; ++i) out[i] *= inv;
}

}  // namespace junction::cpu
