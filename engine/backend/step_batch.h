// StepBatch: what one forward step computes. Built by the scheduler on the engine thread, read
// by every backend's Plan. Host memory only.
#pragma once

#include <vector>

#include "engine/common/ids.h"

namespace junction {

enum class LogitsMode { kNone, kLast, kAll };

// How a request's softmax-attention layers see the past (DESIGN.md §4, §5).
struct AttentionPolicy {
  enum class Mode { kFull, kWindow };
  Mode mode = Mode::kFull;
  int window = 0;     // kWindow: keys within the last `window` positions, the query's included
  int num_sinks = 0;  // kWindow: the first `num_sinks` tokens stay visible ("attention sinks")
};

// One request's part of a step: a prefill chunk, or one decode token.
struct ScheduledChunk {
  RequestId request;
  int first_token = 0;   // index of this chunk's first token in StepBatch::token_ids
  int num_tokens = 0;    // tokens computed this step
  int num_computed = 0;  // tokens of this request already in its KV cache / recurrent state
  // Logical block i -> physical block, covering num_computed + num_tokens tokens. Entries for
  // blocks a window policy has released are invalid (BlockId{}).
  std::vector<BlockId> block_table;
  StateSlotId state_slot;  // recurrent layers' slot; invalid when the model has none
  LogitsMode logits = LogitsMode::kLast;
  AttentionPolicy policy;
};

struct StepBatch {
  std::vector<TokenId> token_ids;  // [num_tokens]: every chunk's tokens, concatenated
  std::vector<ScheduledChunk> chunks;

  int num_tokens() const { return static_cast<int>(token_ids.size()); }
  // Logit rows in order: per chunk, kAll -> num_tokens rows, kLast -> 1, kNone -> 0.
  int NumLogitRows() const {
    int rows = 0;
    for (const ScheduledChunk& c : chunks)
      rows += c.logits == LogitsMode::kAll ? c.num_tokens : c.logits == LogitsMode::kLast;
    return rows;
  }
};

// Memory geometry a model runner allocates its caches with.
struct CacheGeometry {
  int block_size = 16;     // tokens per KV block
  int num_blocks = 0;      // KV blocks per attention-like layer (ids shared by all such layers)
  int num_state_slots = 0; // recurrent state slots per recurrent layer
};

}  // namespace junction
