// MemoryManager: the KV-block pool (with the prefix cache) and the state-slot pool
// (DESIGN.md §6). Owned and called by the engine thread only; not thread-safe.
//
// A block is either used (refcount > 0: in some request's block table, possibly shared through
// the prefix cache) or free (refcount 0). Free blocks form one LRU list: blocks without a cached
// prefix hash sit at the front and are reused first; cached free blocks keep their hash (a later
// request may revive them) until they are reused, oldest release first.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/common/ids.h"

namespace junction {

// Hash of one full block of tokens chained to the hash of the blocks before it.
uint64_t ChainBlockHash(uint64_t parent_hash, std::span<const TokenId> tokens);
inline constexpr uint64_t kRootBlockHash = 0x6a756e6374696f6eULL;

class MemoryManager {
 public:
  MemoryManager(int num_blocks, int block_size, int num_state_slots, bool prefix_cache);

  int num_blocks() const { return static_cast<int>(blocks_.size()); }
  int block_size() const { return block_size_; }
  bool prefix_cache() const { return prefix_cache_; }
  // Free blocks, cached ones included (they can be reused at once).
  int num_free_blocks() const { return num_free_; }
  int num_used_blocks() const { return num_blocks() - num_free_; }
  int num_cached_blocks() const { return static_cast<int>(cached_.size()); }
  int refcount(BlockId block) const { return blocks_[block.value].refcount; }
  std::optional<uint64_t> hash(BlockId block) const;

  // Takes a free block (refcount 1), evicting its cached hash if it had one. The pool must have
  // a free block (check num_free_blocks() first; aborts otherwise).
  BlockId Allocate();
  // Drops one reference; at zero the block joins the free list (keeping its hash, if any).
  void Release(BlockId block);

  // The cached block holding `tokens` after the chain `parent_hash`, or nullopt. No side effect.
  std::optional<BlockId> FindCached(uint64_t hash, std::span<const TokenId> tokens) const;
  // Adds a reference to a block found by FindCached (reviving it if it was free).
  void Acquire(BlockId block);
  // Records that used block `block` holds the full token block `tokens` with chain hash `hash`.
  // Returns false (and records nothing) when prefix caching is off, the hash is already cached
  // by another block, or `block` already has a hash.
  bool Publish(BlockId block, uint64_t hash, std::span<const TokenId> tokens);

  int num_state_slots() const { return static_cast<int>(slot_used_.size()); }
  int num_free_state_slots() const { return static_cast<int>(free_slots_.size()); }
  // A free slot, or nullopt when all are taken.
  std::optional<StateSlotId> AllocateSlot();
  void ReleaseSlot(StateSlotId slot);
  bool slot_used(StateSlotId slot) const { return slot_used_[slot.value]; }

  // Internal consistency: free + used = total, refcounts >= 0, the free list holds exactly the
  // refcount-0 blocks, every cached hash maps to a block carrying it, slots consistent.
  // Returns "" when consistent, else a description of the first problem.
  std::string CheckInvariants() const;

 private:
  struct Block {
    int refcount = 0;
    bool cached = false;  // has an entry in cached_
    uint64_t hash = 0;
    std::vector<TokenId> tokens;  // the block's tokens when cached (guards against collisions)
    int prev = -1;                // free-list links (block indices), valid while refcount == 0
    int next = -1;
  };

  void Unlink(int index);
  void PushFront(int index);
  void PushBack(int index);

  int block_size_;
  bool prefix_cache_;
  std::vector<Block> blocks_;
  int free_head_ = -1;
  int free_tail_ = -1;
  int num_free_ = 0;
  absl::flat_hash_map<uint64_t, int> cached_;  // chain hash -> block index
  std::vector<bool> slot_used_;
  std::vector<StateSlotId> free_slots_;
};

}  // namespace junction
