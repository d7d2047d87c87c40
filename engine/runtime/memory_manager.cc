#include "engine/runtime/memory_manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/common/check.h"

namespace junction {

uint64_t ChainBlockHash(uint64_t parent_hash, std::span<const TokenId> tokens) {
  // FNV-1a over the parent hash and the token ids, then a 64-bit finalizer (splitmix).
  uint64_t h = 0xcbf29ce484222325ULL ^ parent_hash;
  for (TokenId t : tokens) {
    h ^= static_cast<uint32_t>(t);
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

MemoryManager::MemoryManager(int num_blocks, int block_size, int num_state_slots, bool prefix_cache)
    : block_size_(block_size), prefix_cache_(prefix_cache), blocks_(num_blocks) {
  JUNCTION_CHECK(num_blocks >= 0 && block_size > 0 && num_state_slots >= 0);
  for (int i = 0; i < num_blocks; ++i) PushBack(i);
  slot_used_.assign(num_state_slots, false);
  for (int i = num_state_slots - 1; i >= 0; --i) free_slots_.push_back(StateSlotId(i));
}

std::optional<uint64_t> MemoryManager::hash(BlockId block) const {
  const Block& b = blocks_[block.value];
  if (!b.cached) return std::nullopt;
  return b.hash;
}

void MemoryManager::Unlink(int index) {
  Block& b = blocks_[index];
  (b.prev >= 0 ? blocks_[b.prev].next : free_head_) = b.next;
  (b.next >= 0 ? blocks_[b.next].prev : free_tail_) = b.prev;
  b.prev = b.next = -1;
  --num_free_;
}

void MemoryManager::PushFront(int index) {
  Block& b = blocks_[index];
  b.prev = -1;
  b.next = free_head_;
  (free_head_ >= 0 ? blocks_[free_head_].prev : free_tail_) = index;
  free_head_ = index;
  ++num_free_;
}

void MemoryManager::PushBack(int index) {
  Block& b = blocks_[index];
  b.next = -1;
  b.prev = free_tail_;
  (free_tail_ >= 0 ? blocks_[free_tail_].next : free_head_) = index;
  free_tail_ = index;
  ++num_free_;
}

BlockId MemoryManager::Allocate() {
  JUNCTION_CHECK(free_head_ >= 0, "no free KV block");
  const int index = free_head_;
  Unlink(index);
  Block& b = blocks_[index];
  if (b.cached) {
    cached_.erase(b.hash);
    b.cached = false;
    b.tokens.clear();
  }
  b.refcount = 1;
  return BlockId(index);
}

void MemoryManager::Release(BlockId block) {
  Block& b = blocks_[block.value];
  JUNCTION_CHECK(b.refcount > 0, "releasing free block %d", block.value);
  if (--b.refcount > 0) return;
  // Uncached blocks are reused first; cached ones wait at the back in release order (LRU).
  if (b.cached) {
    PushBack(block.value);
  } else {
    PushFront(block.value);
  }
}

std::optional<BlockId> MemoryManager::FindCached(uint64_t hash,
                                                 std::span<const TokenId> tokens) const {
  if (!prefix_cache_) return std::nullopt;
  auto it = cached_.find(hash);
  if (it == cached_.end()) return std::nullopt;
  const Block& b = blocks_[it->second];
  if (!std::equal(b.tokens.begin(), b.tokens.end(), tokens.begin(), tokens.end()))
    return std::nullopt;
  return BlockId(it->second);
}

void MemoryManager::Acquire(BlockId block) {
  Block& b = blocks_[block.value];
  JUNCTION_CHECK(b.cached, "acquiring uncached block %d", block.value);
  if (b.refcount++ == 0) Unlink(block.value);
}

bool MemoryManager::Publish(BlockId block, uint64_t hash, std::span<const TokenId> tokens) {
  Block& b = blocks_[block.value];
  JUNCTION_CHECK(b.refcount > 0, "publishing free block %d", block.value);
  if (!prefix_cache_ || b.cached || cached_.contains(hash)) return false;
  b.cached = true;
  b.hash = hash;
  b.tokens.assign(tokens.begin(), tokens.end());
  cached_[hash] = block.value;
  return true;
}

std::optional<StateSlotId> MemoryManager::AllocateSlot() {
  if (free_slots_.empty()) return std::nullopt;
  const StateSlotId slot = free_slots_.back();
  free_slots_.pop_back();
  slot_used_[slot.value] = true;
  return slot;
}

void MemoryManager::ReleaseSlot(StateSlotId slot) {
  JUNCTION_CHECK(slot.valid() && slot_used_[slot.value], "releasing free slot %d",
                 static_cast<int>(slot.value));
  slot_used_[slot.value] = false;
  free_slots_.push_back(slot);
}

std::string MemoryManager::CheckInvariants() const {
  int listed = 0;
  std::vector<bool> on_list(blocks_.size(), false);
  for (int i = free_head_, prev = -1; i >= 0; prev = i, i = blocks_[i].next) {
    if (on_list[i]) return absl::StrCat("free list has a cycle at block ", i);
    if (blocks_[i].prev != prev) return absl::StrCat("free list back link broken at block ", i);
    on_list[i] = true;
    ++listed;
  }
  if (listed != num_free_) return absl::StrCat("free list has ", listed, ", count ", num_free_);
  int used = 0;
  for (int i = 0; i < num_blocks(); ++i) {
    const Block& b = blocks_[i];
    if (b.refcount < 0) return absl::StrCat("block ", i, " has refcount ", b.refcount);
    if ((b.refcount == 0) != on_list[i])
      return absl::StrCat("block ", i, " refcount ", b.refcount, " but on free list ", on_list[i]);
    used += b.refcount > 0;
    if (b.cached) {
      auto it = cached_.find(b.hash);
      if (it == cached_.end() || it->second != i)
        return absl::StrCat("block ", i, " is cached but its hash maps elsewhere");
      if (static_cast<int>(b.tokens.size()) != block_size_)
        return absl::StrCat("cached block ", i, " holds ", b.tokens.size(), " tokens");
    }
  }
  if (used + num_free_ != num_blocks())
    return absl::StrCat("used ", used, " + free ", num_free_, " != total ", num_blocks());
  for (const auto& [hash, index] : cached_)
    if (!blocks_[index].cached || blocks_[index].hash != hash)
      return absl::StrCat("hash entry for block ", index, " is stale");
  int slots_used = 0;
  for (bool u : slot_used_) slots_used += u;
  if (slots_used + num_free_state_slots() != num_state_slots())
    return absl::StrCat("slots used ", slots_used, " + free ", num_free_state_slots(), " != total ",
                        num_state_slots());
  for (StateSlotId s : free_slots_)
    if (slot_used_[s.value]) return absl::StrCat("slot ", s.value, " is free and used");
  return "";
}

}  // namespace junction
