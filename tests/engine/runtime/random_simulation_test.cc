// Randomized simulation of the scheduler + memory manager + fake model: random arrivals,
// lengths, shared prefixes, window policies, priorities and cancellations under a tight memory
// budget. Checks after every step: the invariants, no deadlock (a non-empty scheduler always
// schedules something), and every finished request generated exactly what it generates alone.
// At the end: every request finished or was cancelled, no block or slot leaked.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <random>

#include "engine/runtime/scheduler.h"
#include "tests/support/fake_model_runner.h"

namespace junction::testing {
namespace {

struct SimOutcome {
  int submitted = 0;
  int refused = 0;
  int finished = 0;
  int cancelled = 0;
  int64_t preemptions = 0;
  int64_t prefix_hits = 0;
};

class RandomSimulation {
 public:
  // shared_prefixes: the prefix cache on and every shared prefix at least one full block long
  // (otherwise both are random, and some seeds have no prefix hit at all).
  RandomSimulation(uint64_t seed, bool recurrent, bool shared_prefixes) : rng_(seed) {
    model_.recurrent_layer = recurrent;
    model_.vocab_size = 48;
    block_size_ = Pick({2, 4, 8});
    num_blocks_ = Uniform(96, 160) / block_size_;
    max_batched_tokens_ = Uniform(6, 40);
    const int max_num_seqs = Uniform(3, 10);
    const bool prefix_cache = !recurrent && (Uniform(0, 3) > 0 || shared_prefixes);
    memory_ = std::make_unique<MemoryManager>(num_blocks_, block_size_,
                                              recurrent ? max_num_seqs : 0, prefix_cache);
    runner_ = std::make_unique<FakeModelRunner>(
        model_, CacheGeometry{block_size_, num_blocks_, recurrent ? max_num_seqs : 0});
    SchedulerConfig config;
    config.max_num_seqs = max_num_seqs;
    config.max_batched_tokens = max_batched_tokens_;
    config.needs_state_slots = recurrent;
    scheduler_ = std::make_unique<Scheduler>(config, *memory_);
    for (int i = 0; i < 4; ++i)
      prefixes_.push_back(RandomTokens(Uniform(shared_prefixes ? 1 : 0, 3) * block_size_ + 1));
  }

  // Runs `num_steps` steps with arrivals, then without until every request is done.
  SimOutcome Run(int num_steps) {
    for (int step = 0; step < num_steps; ++step) {
      // Bursty arrivals while the waiting queue is short (the engine bounds it too).
      if (scheduler_->num_waiting() < 6 && Uniform(0, 99) < 35) Arrive();
      if (scheduler_->num_waiting() < 6 && Uniform(0, 99) < 10) Arrive();
      if (Uniform(0, 99) < 4) CancelOne();
      Step();
    }
    for (int step = 0; !scheduler_->empty(); ++step) {
      INFO("draining took more than 20000 steps: a request never finishes");
      REQUIRE(step < 20000);
      Step();
    }
    REQUIRE(scheduler_->CheckInvariants() == "");
    CHECK(memory_->num_free_blocks() == memory_->num_blocks());
    CHECK(memory_->num_free_state_slots() == memory_->num_state_slots());
    CHECK(static_cast<int>(expected_.size()) == 0);
    outcome_.preemptions = scheduler_->preemptions_total();
    outcome_.prefix_hits = scheduler_->prefix_hit_tokens_total();
    return outcome_;
  }

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  int Pick(std::initializer_list<int> values) {
    return *(values.begin() + Uniform(0, static_cast<int>(values.size()) - 1));
  }
  std::vector<TokenId> RandomTokens(int n) {
    std::vector<TokenId> out(n);
    for (TokenId& t : out) t = Uniform(0, model_.vocab_size - 1);
    return out;
  }

  void Arrive() {
    SchedulerRequest r;
    r.id = RequestId(next_id_++);
    r.arrival = r.id.value;
    r.priority = Uniform(0, 2);
    r.tokens = Uniform(0, 1) ? prefixes_[Uniform(0, 3)] : std::vector<TokenId>{};
    const std::vector<TokenId> tail = RandomTokens(Uniform(1, 40));
    r.tokens.insert(r.tokens.end(), tail.begin(), tail.end());
    r.num_prompt_tokens = static_cast<int>(r.tokens.size());
    if (Uniform(0, 99) < 20)
      r.policy = {AttentionPolicy::Mode::kWindow, Uniform(3, 20), Uniform(0, 5)};
    r.prefix_cacheable = r.policy.mode == AttentionPolicy::Mode::kFull;
    SamplingParams greedy;
    greedy.temperature = 0;
    greedy.ignore_eos = true;
    greedy.max_tokens = Uniform(1, 30);
    const int64_t total = r.num_prompt_tokens + greedy.max_tokens;
    // What the engine's submission check refuses: requests that can never fit.
    if (MaxLiveBlocks(total, WindowFor(r.policy, 0), block_size_, max_batched_tokens_) >
        num_blocks_) {
      ++outcome_.refused;
      return;
    }
    ++outcome_.submitted;
    expected_[r.id] = {FakeReferenceIds(model_, r.tokens, greedy, r.policy), greedy.max_tokens};
    scheduler_->Add(std::move(r));
  }

  void CancelOne() {
    if (expected_.empty()) return;
    auto it = expected_.begin();
    std::advance(it, Uniform(0, static_cast<int>(expected_.size()) - 1));
    REQUIRE(scheduler_->Remove(it->first));
    expected_.erase(it);
    ++outcome_.cancelled;
  }

  void Step() {
    REQUIRE(scheduler_->CheckInvariants() == "");
    StepBatch batch = scheduler_->Schedule();
    INFO(scheduler_->CheckInvariants());
    REQUIRE(scheduler_->CheckInvariants() == "");
    if (!scheduler_->empty()) REQUIRE(!batch.chunks.empty());  // no deadlock
    if (batch.chunks.empty()) return;
    REQUIRE(batch.num_tokens() <= max_batched_tokens_);
    std::vector<float> logits;
    const absl::Status status = runner_->ForwardToHost(batch, logits);
    INFO(status.ToString());
    REQUIRE(status.ok());
    std::vector<TokenId> sampled;
    const int vocab = model_.vocab_size;
    for (size_t row = 0; row * vocab < logits.size(); ++row)
      sampled.push_back(static_cast<TokenId>(
          std::max_element(logits.begin() + row * vocab, logits.begin() + (row + 1) * vocab) -
          (logits.begin() + row * vocab)));
    scheduler_->Update(sampled);
    REQUIRE(scheduler_->CheckInvariants() == "");
    for (const ScheduledChunk& chunk : batch.chunks) {
      const SchedulerRequest& r = *scheduler_->Find(chunk.request);
      const auto& [ids, max_tokens] = expected_.at(r.id);
      if (r.num_generated() < max_tokens) continue;
      INFO("request " << r.id.value << " preempted " << r.num_preemptions << " times");
      CHECK(std::vector<TokenId>(r.tokens.begin() + r.num_prompt_tokens, r.tokens.end()) == ids);
      expected_.erase(r.id);
      REQUIRE(scheduler_->Remove(chunk.request));
      ++outcome_.finished;
    }
  }

  std::mt19937_64 rng_;
  FakeModelOptions model_;
  int block_size_ = 4;
  int num_blocks_ = 0;
  int max_batched_tokens_ = 0;
  std::unique_ptr<MemoryManager> memory_;
  std::unique_ptr<FakeModelRunner> runner_;
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<std::vector<TokenId>> prefixes_;
  std::map<RequestId, std::pair<std::vector<TokenId>, int>> expected_;
  int64_t next_id_ = 1;
  SimOutcome outcome_;
};

TEST_CASE("random simulation: 10000 steps, tight memory, no deadlock, no leak") {
  const char* fixed = std::getenv("JUNCTION_SIM_SEED");
  const uint64_t base_seed = fixed ? std::strtoull(fixed, nullptr, 10) : std::random_device{}();
  int64_t total_preemptions = 0, total_hits = 0;
  for (int round = 0; round < 4; ++round) {
    const uint64_t seed = base_seed + round;
    const bool recurrent = round % 2 == 1;
    INFO("seed " << seed << (recurrent ? " (with a recurrent layer)" : "")
                 << "; rerun with JUNCTION_SIM_SEED=" << base_seed << " to reproduce");
    RandomSimulation sim(seed, recurrent, /*shared_prefixes=*/round == 0);
    const SimOutcome outcome = sim.Run(round == 0 ? 10000 : 2500);
    CHECK(outcome.finished + outcome.cancelled == outcome.submitted);
    CHECK(outcome.finished > 0);
    std::printf(
        "sim seed %llu: submitted %d refused %d finished %d cancelled %d preemptions %lld hits "
        "%lld\n",
        (unsigned long long)seed, outcome.submitted, outcome.refused, outcome.finished,
        outcome.cancelled, (long long)outcome.preemptions, (long long)outcome.prefix_hits);
    total_preemptions += outcome.preemptions;
    total_hits += outcome.prefix_hits;
  }
  // The budget is tight enough that preemption happens (otherwise the test proves little).
  CHECK(total_preemptions > 0);
  CHECK(total_hits > 0);
}

}  // namespace
}  // namespace junction::testing
