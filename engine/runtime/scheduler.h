// Scheduler: continuous batching over the MemoryManager (DESIGN.md §2, §6). Each step it picks
// decode tokens first, then the next prefill chunks of running requests, then admits waiting
// requests (FCFS within priority) while the token budget, the sequence limit, KV blocks and
// state slots allow. When a running request needs a block and none is free, the least important
// unscheduled running request (highest priority value, then latest arrival) is preempted by
// recompute: its blocks and slot are freed and it returns to the waiting queue, keeping its
// generated tokens, which are prefilled again with the prompt.
//
// Owned and called by the engine thread only; not thread-safe. Deterministic: the same calls
// give the same batches.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/backend/step_batch.h"
#include "engine/runtime/memory_manager.h"

namespace junction {

struct SchedulerConfig {
  int max_num_seqs = 256;
  int max_batched_tokens = 2048;   // tokens per step over every chunk
  bool needs_kv_blocks = true;     // the model has attention-like layers
  bool needs_state_slots = false;  // the model has layers with recurrent state
  // > 0 when every attention-like layer of the model slides with this window: blocks that fall
  // out of it are released for every request.
  int model_window = 0;
};

enum class RequestState { kWaiting, kRunning };

// One request as the scheduler sees it. Fields are read by the engine and tests; only the
// scheduler mutates them.
struct SchedulerRequest {
  RequestId id;
  int priority = 0;             // lower runs first
  int64_t arrival = 0;          // submission order: ties in priority run first-come first-served
  std::vector<TokenId> tokens;  // the prompt, then every generated token
  int num_prompt_tokens = 0;
  AttentionPolicy policy;
  bool prefix_cacheable = false;  // may read and publish prefix-cache blocks

  RequestState state = RequestState::kWaiting;
  int num_computed = 0;  // tokens whose K/V (and state) are in the cache
  // Logical block i -> physical block, covering num_computed tokens (plus the scheduled chunk
  // between Schedule and Update). Window-released entries are BlockId{}.
  std::vector<BlockId> block_table;
  std::vector<uint64_t> block_hashes;  // chain hash of each leading full computed block
  int release_cursor = 0;              // first logical block not yet considered for release
  StateSlotId state_slot;
  int num_cached_prompt_tokens = 0;  // prompt tokens served by the prefix cache (first admission)
  int num_preemptions = 0;
  int scheduled_tokens = 0;  // tokens in the current step (0 between Update and Schedule)

  int num_generated() const { return static_cast<int>(tokens.size()) - num_prompt_tokens; }
};

// Window parameters that bound a request's live blocks: (window, sinks); window 0 = unbounded.
struct WindowBound {
  int window = 0;
  int num_sinks = 0;
};
WindowBound WindowFor(const AttentionPolicy& policy, int model_window);

// The most blocks one request can hold at once: all of its tokens without a window; with one,
// the sink blocks + the window + one chunk (chunks of a windowed request are capped at the
// window). Used to refuse requests that could never fit.
int64_t MaxLiveBlocks(int64_t total_tokens, WindowBound bound, int block_size,
                      int max_batched_tokens);

class Scheduler {
 public:
  // `memory` must outlive the scheduler; the scheduler is its only client.
  Scheduler(const SchedulerConfig& config, MemoryManager& memory);

  // Queues a new request (state kWaiting, nothing computed). Its id must be new.
  void Add(SchedulerRequest request);

  // Builds the next step (may be empty): sets scheduled_tokens, allocates the blocks and slots
  // the chunks need, preempts when blocks run out. Must be followed by Update or AbandonStep.
  StepBatch Schedule();
  // Completes the scheduled step: advances num_computed, appends sampled[i] to the i-th chunk
  // that asked for logits (in batch order), publishes newly full blocks to the prefix cache and
  // releases blocks that left a request's window.
  void Update(std::span<const TokenId> sampled);
  // Forgets the scheduled step (its forward failed): nothing advances; the blocks stay.
  void AbandonStep();

  // Removes a request, waiting or running, freeing its blocks and slot now. Returns false for
  // an unknown id. Not during a step (between Schedule and Update).
  bool Remove(RequestId id);

  const SchedulerRequest* Find(RequestId id) const;
  std::vector<RequestId> running() const;  // in priority order
  std::vector<RequestId> waiting() const;  // in admission order
  int num_running() const { return static_cast<int>(running_.size()); }
  int num_waiting() const { return static_cast<int>(waiting_.size()); }
  bool empty() const { return requests_.empty(); }
  // Requests preempted during the last Schedule.
  const std::vector<RequestId>& last_preempted() const { return preempted_; }
  int64_t preemptions_total() const { return preemptions_total_; }
  int64_t prefix_hit_tokens_total() const { return prefix_hit_tokens_total_; }
  const MemoryManager& memory() const { return memory_; }

  // Memory-manager invariants plus ownership: each block's refcount equals the number of block
  // tables holding it, no table holds a block twice, waiting requests hold nothing, running ones
  // cover their computed tokens, hashes match the token chain. "" when all hold.
  std::string CheckInvariants() const;

 private:
  struct ByImportance {
    bool operator()(const SchedulerRequest* a, const SchedulerRequest* b) const {
      if (a->priority != b->priority) return a->priority < b->priority;
      return a->arrival < b->arrival;
    }
  };

  int MaxChunk(const SchedulerRequest& r) const;
  int NewBlocksFor(const SchedulerRequest& r, int num_tokens) const;
  bool MakeRoom(SchedulerRequest* r, int num_tokens);
  void ScheduleRunning(bool decode_pass, int& budget, StepBatch& batch);
  void AdmitWaiting(int& budget, StepBatch& batch);
  std::vector<BlockId> FindPrefixHits(const SchedulerRequest& r,
                                      std::vector<uint64_t>& hashes) const;
  void AddChunk(SchedulerRequest* r, int num_tokens, StepBatch& batch);
  void Preempt(SchedulerRequest* r);
  void FreeResources(SchedulerRequest* r);
  void PublishFullBlocks(SchedulerRequest* r);
  void ReleaseWindowBlocks(SchedulerRequest* r);
  void RemoveFromRunning(SchedulerRequest* r);

  SchedulerConfig config_;
  MemoryManager& memory_;
  absl::flat_hash_map<RequestId, std::unique_ptr<SchedulerRequest>> requests_;
  std::vector<SchedulerRequest*> running_;             // sorted ByImportance
  std::set<SchedulerRequest*, ByImportance> waiting_;  // admission order
  std::vector<SchedulerRequest*> scheduled_;           // this step's chunks, batch order
  std::vector<RequestId> preempted_;
  int64_t preemptions_total_ = 0;
  int64_t prefix_hit_tokens_total_ = 0;
};

}  // namespace junction
