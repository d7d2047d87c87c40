#include "engine/runtime/scheduler.h"

#include <algorithm>
#include <climits>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/common/check.h"

namespace junction {
namespace {

int CeilDiv(int64_t a, int64_t b) { return static_cast<int>((a + b - 1) / b); }

}  // namespace

WindowBound WindowFor(const AttentionPolicy& policy, int model_window) {
  if (policy.mode == AttentionPolicy::Mode::kWindow) return {policy.window, policy.num_sinks};
  if (model_window > 0) return {model_window, 0};
  return {};
}

int64_t MaxLiveBlocks(int64_t total_tokens, WindowBound bound, int block_size,
                      int max_batched_tokens) {
  const int64_t all = (total_tokens + block_size - 1) / block_size;
  if (bound.window <= 0) return all;
  const int64_t chunk = std::min(max_batched_tokens, bound.window);
  const int64_t windowed = (bound.num_sinks + block_size - 1) / block_size +
                           (bound.window - 1 + chunk + block_size - 1) / block_size + 1;
  return std::min(all, windowed);
}

Scheduler::Scheduler(const SchedulerConfig& config, MemoryManager& memory)
    : config_(config), memory_(memory) {
  JUNCTION_CHECK(config.max_num_seqs > 0 && config.max_batched_tokens > 0);
}

void Scheduler::Add(SchedulerRequest request) {
  JUNCTION_CHECK(!request.tokens.empty(), "empty request");
  JUNCTION_CHECK(!requests_.contains(request.id), "duplicate request id");
  auto owned = std::make_unique<SchedulerRequest>(std::move(request));
  SchedulerRequest* r = owned.get();
  r->state = RequestState::kWaiting;
  r->num_computed = 0;
  r->block_table.clear();
  r->block_hashes.clear();
  r->scheduled_tokens = 0;
  requests_[r->id] = std::move(owned);
  JUNCTION_CHECK(waiting_.insert(r).second, "two requests share priority and arrival");
}

int Scheduler::MaxChunk(const SchedulerRequest& r) const {
  const WindowBound bound = WindowFor(r.policy, config_.model_window);
  return bound.window > 0 ? bound.window : INT_MAX;
}

int Scheduler::NewBlocksFor(const SchedulerRequest& r, int num_tokens) const {
  if (!config_.needs_kv_blocks) return 0;
  const int needed = CeilDiv(r.num_computed + num_tokens, memory_.block_size());
  return std::max(0, needed - static_cast<int>(r.block_table.size()));
}

StepBatch Scheduler::Schedule() {
  JUNCTION_CHECK(scheduled_.empty(), "Schedule called twice without Update");
  preempted_.clear();
  StepBatch batch;
  int budget = config_.max_batched_tokens;
  ScheduleRunning(/*decode_pass=*/true, budget, batch);
  ScheduleRunning(/*decode_pass=*/false, budget, batch);
  AdmitWaiting(budget, batch);
  return batch;
}

void Scheduler::ScheduleRunning(bool decode_pass, int& budget, StepBatch& batch) {
  for (int i = 0; i < static_cast<int>(running_.size()) && budget > 0; ++i) {
    SchedulerRequest* r = running_[i];
    const int remaining = static_cast<int>(r->tokens.size()) - r->num_computed;
    if (r->scheduled_tokens > 0 || (remaining == 1) != decode_pass) continue;
    const int n = std::min({remaining, budget, MaxChunk(*r)});
    if (!MakeRoom(r, n)) {
      --i;  // r preempted itself: running_[i] is now the next request
      continue;
    }
    AddChunk(r, n, batch);
    budget -= n;
  }
}

// Frees blocks for `num_tokens` more tokens of running request `r` by preempting less important
// unscheduled requests; preempts `r` itself (returning false) when none is left.
bool Scheduler::MakeRoom(SchedulerRequest* r, int num_tokens) {
  const int needed = NewBlocksFor(*r, num_tokens);
  while (needed > memory_.num_free_blocks()) {
    SchedulerRequest* victim = nullptr;
    for (auto it = running_.rbegin(); it != running_.rend() && *it != r; ++it)
      if ((*it)->scheduled_tokens == 0) {
        victim = *it;
        break;
      }
    if (victim == nullptr) {
      Preempt(r);
      return false;
    }
    Preempt(victim);
  }
  for (int b = 0; b < needed; ++b) r->block_table.push_back(memory_.Allocate());
  return true;
}

void Scheduler::AdmitWaiting(int& budget, StepBatch& batch) {
  // No admission in a step that preempted: the memory it freed goes to running requests.
  while (budget > 0 && preempted_.empty() && !waiting_.empty() &&
         static_cast<int>(running_.size()) < config_.max_num_seqs) {
    SchedulerRequest* r = *waiting_.begin();
    if (config_.needs_state_slots && memory_.num_free_state_slots() == 0) return;
    std::vector<uint64_t> hashes;
    const std::vector<BlockId> hits = FindPrefixHits(*r, hashes);
    const int computed = static_cast<int>(hits.size()) * memory_.block_size();
    const int remaining = static_cast<int>(r->tokens.size()) - computed;
    const int n = std::min({remaining, budget, MaxChunk(*r)});
    int revived = 0;  // hits that are free now and stop being free once acquired
    for (BlockId b : hits) revived += memory_.refcount(b) == 0;
    const int new_blocks = config_.needs_kv_blocks ? CeilDiv(computed + n, memory_.block_size()) -
                                                         static_cast<int>(hits.size())
                                                   : 0;
    if (new_blocks > memory_.num_free_blocks() - revived) return;  // FCFS: nobody jumps ahead
    waiting_.erase(waiting_.begin());
    for (BlockId b : hits) memory_.Acquire(b);
    r->block_table = hits;
    r->block_hashes = std::move(hashes);
    r->num_computed = computed;
    r->release_cursor = 0;
    for (int b = 0; b < new_blocks; ++b) r->block_table.push_back(memory_.Allocate());
    // Fresh blocks in ascending order: evicted prefix blocks come off the free list in reverse,
    // and the GPU prefill loads runs of physically adjacent blocks in one TMA box.
    std::sort(r->block_table.end() - new_blocks, r->block_table.end(),
              [](BlockId a, BlockId b) { return a.value < b.value; });
    if (config_.needs_state_slots) r->state_slot = *memory_.AllocateSlot();
    if (r->num_preemptions == 0) {
      r->num_cached_prompt_tokens = std::min(computed, r->num_prompt_tokens);
      prefix_hit_tokens_total_ += computed;
    }
    r->state = RequestState::kRunning;
    running_.insert(std::upper_bound(running_.begin(), running_.end(), r, ByImportance()), r);
    AddChunk(r, n, batch);
    budget -= n;
  }
}

// Leading full blocks of r's tokens found in the prefix cache; never the whole sequence (the
// last token is always computed, to get its logits).
std::vector<BlockId> Scheduler::FindPrefixHits(const SchedulerRequest& r,
                                               std::vector<uint64_t>& hashes) const {
  std::vector<BlockId> hits;
  if (!r.prefix_cacheable || !memory_.prefix_cache() || !config_.needs_kv_blocks) return hits;
  const int bs = memory_.block_size();
  const int max_blocks = (static_cast<int>(r.tokens.size()) - 1) / bs;
  uint64_t parent = kRootBlockHash;
  for (int b = 0; b < max_blocks; ++b) {
    std::span<const TokenId> tokens(r.tokens.data() + b * bs, bs);
    const uint64_t h = ChainBlockHash(parent, tokens);
    const std::optional<BlockId> block = memory_.FindCached(h, tokens);
    if (!block) break;
    hits.push_back(*block);
    hashes.push_back(h);
    parent = h;
  }
  return hits;
}

void Scheduler::AddChunk(SchedulerRequest* r, int num_tokens, StepBatch& batch) {
  ScheduledChunk chunk;
  chunk.request = r->id;
  chunk.first_token = batch.num_tokens();
  chunk.num_tokens = num_tokens;
  chunk.num_computed = r->num_computed;
  chunk.block_table = r->block_table;
  chunk.state_slot = r->state_slot;
  const bool last = r->num_computed + num_tokens == static_cast<int>(r->tokens.size());
  chunk.logits = last ? LogitsMode::kLast : LogitsMode::kNone;
  chunk.policy = r->policy;
  batch.token_ids.insert(batch.token_ids.end(), r->tokens.begin() + r->num_computed,
                         r->tokens.begin() + r->num_computed + num_tokens);
  batch.chunks.push_back(std::move(chunk));
  r->scheduled_tokens = num_tokens;
  scheduled_.push_back(r);
}

void Scheduler::FreeResources(SchedulerRequest* r) {
  // Tail blocks first: with LRU eviction the head of a cached prefix then outlives its tail.
  for (auto it = r->block_table.rbegin(); it != r->block_table.rend(); ++it)
    if (it->valid()) memory_.Release(*it);
  r->block_table.clear();
  r->block_hashes.clear();
  r->release_cursor = 0;
  r->num_computed = 0;
  if (r->state_slot.valid()) memory_.ReleaseSlot(r->state_slot);
  r->state_slot = StateSlotId();
}

void Scheduler::RemoveFromRunning(SchedulerRequest* r) {
  running_.erase(std::find(running_.begin(), running_.end(), r));
}

void Scheduler::Preempt(SchedulerRequest* r) {
  JUNCTION_CHECK(r->state == RequestState::kRunning && r->scheduled_tokens == 0);
  FreeResources(r);
  RemoveFromRunning(r);
  r->state = RequestState::kWaiting;
  ++r->num_preemptions;
  waiting_.insert(r);  // keeps its arrival: ahead of everything that came later
  preempted_.push_back(r->id);
  ++preemptions_total_;
}

void Scheduler::Update(std::span<const TokenId> sampled) {
  size_t next = 0;
  for (SchedulerRequest* r : scheduled_) {
    r->num_computed += r->scheduled_tokens;
    r->scheduled_tokens = 0;
    if (r->num_computed == static_cast<int>(r->tokens.size())) {
      JUNCTION_CHECK(next < sampled.size(), "fewer sampled tokens than logit rows");
      r->tokens.push_back(sampled[next++]);
    }
    PublishFullBlocks(r);
    ReleaseWindowBlocks(r);
  }
  JUNCTION_CHECK(next == sampled.size(), "more sampled tokens than logit rows");
  scheduled_.clear();
}

void Scheduler::AbandonStep() {
  for (SchedulerRequest* r : scheduled_) r->scheduled_tokens = 0;
  scheduled_.clear();
}

void Scheduler::PublishFullBlocks(SchedulerRequest* r) {
  if (!r->prefix_cacheable || !memory_.prefix_cache() || !config_.needs_kv_blocks) return;
  const int bs = memory_.block_size();
  while ((static_cast<int>(r->block_hashes.size()) + 1) * bs <= r->num_computed) {
    const int b = static_cast<int>(r->block_hashes.size());
    std::span<const TokenId> tokens(r->tokens.data() + b * bs, bs);
    const uint64_t h = ChainBlockHash(b == 0 ? kRootBlockHash : r->block_hashes.back(), tokens);
    r->block_hashes.push_back(h);
    memory_.Publish(r->block_table[b], h, tokens);  // false: an equal block is already cached
  }
}

// Releases blocks whose every position p is past the sinks and below the oldest key the next
// query (at position num_computed) can see: num_computed - window + 1.
void Scheduler::ReleaseWindowBlocks(SchedulerRequest* r) {
  const WindowBound bound = WindowFor(r->policy, config_.model_window);
  if (bound.window <= 0 || !config_.needs_kv_blocks) return;
  const int bs = memory_.block_size();
  const int oldest_visible = r->num_computed - bound.window + 1;
  for (; (r->release_cursor + 1) * bs <= oldest_visible; ++r->release_cursor) {
    BlockId& block = r->block_table[r->release_cursor];
    if (r->release_cursor * bs < bound.num_sinks || !block.valid()) continue;
    memory_.Release(block);
    block = BlockId();
  }
}

bool Scheduler::Remove(RequestId id) {
  JUNCTION_CHECK(scheduled_.empty(), "Remove during a step");
  auto it = requests_.find(id);
  if (it == requests_.end()) return false;
  SchedulerRequest* r = it->second.get();
  if (r->state == RequestState::kWaiting) {
    waiting_.erase(r);
  } else {
    FreeResources(r);
    RemoveFromRunning(r);
  }
  requests_.erase(it);
  return true;
}

const SchedulerRequest* Scheduler::Find(RequestId id) const {
  auto it = requests_.find(id);
  return it == requests_.end() ? nullptr : it->second.get();
}

std::vector<RequestId> Scheduler::running() const {
  std::vector<RequestId> out;
  for (const SchedulerRequest* r : running_) out.push_back(r->id);
  return out;
}

std::vector<RequestId> Scheduler::waiting() const {
  std::vector<RequestId> out;
  for (const SchedulerRequest* r : waiting_) out.push_back(r->id);
  return out;
}

std::string Scheduler::CheckInvariants() const {
  if (std::string m = memory_.CheckInvariants(); !m.empty()) return m;
  if (static_cast<int>(running_.size()) > config_.max_num_seqs) return "too many running";
  if (!std::is_sorted(running_.begin(), running_.end(), ByImportance()))
    return "running requests out of order";
  if (running_.size() + waiting_.size() != requests_.size()) return "request lost or duplicated";
  std::vector<int> owners(memory_.num_blocks(), 0);
  absl::flat_hash_set<int> slots;
  const int bs = memory_.block_size();
  for (const auto& [id, owned] : requests_) {
    const SchedulerRequest& r = *owned;
    const std::string who = absl::StrCat("request ", id.value, ": ");
    if (r.state == RequestState::kWaiting) {
      if (!r.block_table.empty() || r.state_slot.valid() || r.num_computed != 0)
        return who + "waiting but holds memory";
      continue;
    }
    if (config_.needs_state_slots && !r.state_slot.valid()) return who + "running without a slot";
    if (r.state_slot.valid() && !slots.insert(r.state_slot.value).second)
      return who + "shares a state slot";
    const int covered =
        config_.needs_kv_blocks ? CeilDiv(r.num_computed + r.scheduled_tokens, bs) : 0;
    if (static_cast<int>(r.block_table.size()) != covered)
      return absl::StrCat(who, r.block_table.size(), " blocks for ", covered);
    absl::flat_hash_set<int> mine;
    for (BlockId b : r.block_table) {
      if (!b.valid()) continue;
      if (!mine.insert(b.value).second) return who + "holds a block twice";
      ++owners[b.value];
    }
    uint64_t parent = kRootBlockHash;
    for (size_t b = 0; b < r.block_hashes.size(); ++b) {
      const uint64_t h = ChainBlockHash(parent, std::span(r.tokens.data() + b * bs, bs));
      if (h != r.block_hashes[b]) return absl::StrCat(who, "hash of block ", b, " is stale");
      const std::optional<uint64_t> cached = memory_.hash(r.block_table[b]);
      if (cached && *cached != h)
        return absl::StrCat(who, "block ", b, " cached under another hash");
      parent = h;
    }
  }
  for (int b = 0; b < memory_.num_blocks(); ++b)
    if (owners[b] != memory_.refcount(BlockId(b)))
      return absl::StrCat("block ", b, " has ", owners[b], " owners, refcount ",
                          memory_.refcount(BlockId(b)));
  return "";
}

}  // namespace junction
