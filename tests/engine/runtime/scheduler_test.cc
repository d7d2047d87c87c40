// Table-driven simulations of the scheduler and memory manager with the fake model: step by
// step, which chunks run, who waits, who is preempted and which blocks each request holds.
// Invariants are checked after every Schedule and every Update.
#include "engine/runtime/scheduler.h"

#include <catch2/catch.hpp>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/support/fake_model_runner.h"

namespace junction::testing {
namespace {

struct Add {
  std::string name;
  int prompt_length = 1;
  int max_tokens = 1;
  int priority = 0;
  int first_token = 1;  // prompt = first_token, first_token + 1, ...
  AttentionPolicy policy;
};

struct Step {
  std::vector<Add> adds;            // queued before the step
  std::vector<std::string> cancel;  // removed before the step
  std::string batch;                // chunks: "A:8 B:1"
  std::string preempted;            // "B"
  std::string waiting;              // after the step
  std::string blocks;               // running requests' block tables after the step: "A[0 1]"
};

class Simulation {
 public:
  Simulation(int num_blocks, int block_size, int max_batched_tokens, int max_num_seqs,
             bool prefix_cache, FakeModelOptions model = {})
      : model_(model),
        memory_(num_blocks, block_size, model.recurrent_layer ? max_num_seqs : 0, prefix_cache),
        runner_(model, {block_size, num_blocks, model.recurrent_layer ? max_num_seqs : 0}) {
    SchedulerConfig config;
    config.max_num_seqs = max_num_seqs;
    config.max_batched_tokens = max_batched_tokens;
    config.needs_state_slots = model.recurrent_layer;
    config.model_window = model.sliding_window;
    scheduler_ = std::make_unique<Scheduler>(config, memory_);
  }

  void Run(const std::vector<Step>& steps) {
    for (size_t s = 0; s < steps.size(); ++s) {
      INFO("step " << s + 1);
      const Step& step = steps[s];
      for (const Add& add : step.adds) Queue(add);
      for (const std::string& name : step.cancel) REQUIRE(scheduler_->Remove(ids_.at(name)));
      REQUIRE(scheduler_->CheckInvariants() == "");
      StepBatch batch = scheduler_->Schedule();
      REQUIRE(scheduler_->CheckInvariants() == "");
      CHECK(Describe(batch) == step.batch);
      CHECK(Names(scheduler_->last_preempted()) == step.preempted);
      RunModel(batch);
      REQUIRE(scheduler_->CheckInvariants() == "");
      CHECK(Names(scheduler_->waiting()) == step.waiting);
      CHECK(Blocks() == step.blocks);
    }
  }

  // Generated ids of every request that finished.
  const std::map<std::string, std::vector<TokenId>>& outputs() const { return outputs_; }
  const Scheduler& scheduler() const { return *scheduler_; }
  const MemoryManager& memory() const { return memory_; }
  std::vector<TokenId> Prompt(const std::string& name) const { return prompts_.at(name); }

 private:
  void Queue(const Add& add) {
    SchedulerRequest r;
    r.id = RequestId(next_id_++);
    r.arrival = r.id.value;
    r.priority = add.priority;
    for (int i = 0; i < add.prompt_length; ++i) r.tokens.push_back(add.first_token + i);
    r.num_prompt_tokens = add.prompt_length;
    r.policy = add.policy;
    r.prefix_cacheable = add.policy.mode == AttentionPolicy::Mode::kFull;
    ids_[add.name] = r.id;
    names_[r.id] = add.name;
    max_tokens_[r.id] = add.max_tokens;
    prompts_[add.name] = r.tokens;
    scheduler_->Add(std::move(r));
  }

  void RunModel(const StepBatch& batch) {
    std::vector<float> logits;
    const absl::Status status = runner_.ForwardToHost(batch, logits);
    INFO(status.ToString());
    REQUIRE(status.ok());
    std::vector<TokenId> sampled;
    for (size_t row = 0; row * model_.vocab_size < logits.size(); ++row)
      sampled.push_back(
          static_cast<TokenId>(std::max_element(logits.begin() + row * model_.vocab_size,
                                                logits.begin() + (row + 1) * model_.vocab_size) -
                               (logits.begin() + row * model_.vocab_size)));
    scheduler_->Update(sampled);
    REQUIRE(scheduler_->CheckInvariants() == "");
    for (RequestId id : scheduler_->running()) {
      const SchedulerRequest& r = *scheduler_->Find(id);
      if (r.num_generated() < max_tokens_.at(id)) continue;
      outputs_[names_.at(id)].assign(r.tokens.begin() + r.num_prompt_tokens, r.tokens.end());
      REQUIRE(scheduler_->Remove(id));
    }
  }

  std::string Names(const std::vector<RequestId>& ids) const {
    std::vector<std::string> out;
    for (RequestId id : ids) out.push_back(names_.at(id));
    return absl::StrJoin(out, " ");
  }

  std::string Describe(const StepBatch& batch) const {
    std::vector<std::string> out;
    for (const ScheduledChunk& c : batch.chunks)
      out.push_back(absl::StrCat(names_.at(c.request), ":", c.num_tokens));
    return absl::StrJoin(out, " ");
  }

  std::string Blocks() const {
    std::vector<std::string> out;
    for (RequestId id : scheduler_->running()) {
      std::vector<std::string> blocks;
      for (BlockId b : scheduler_->Find(id)->block_table)
        blocks.push_back(b.valid() ? absl::StrCat(b.value) : "-");
      out.push_back(absl::StrCat(names_.at(id), "[", absl::StrJoin(blocks, " "), "]"));
    }
    return absl::StrJoin(out, " ");
  }

  FakeModelOptions model_;
  MemoryManager memory_;
  FakeModelRunner runner_;
  std::unique_ptr<Scheduler> scheduler_;
  int64_t next_id_ = 1;
  std::map<std::string, RequestId> ids_;
  std::map<RequestId, std::string> names_;
  std::map<RequestId, int> max_tokens_;
  std::map<std::string, std::vector<TokenId>> prompts_;
  std::map<std::string, std::vector<TokenId>> outputs_;
};

void CheckMatchesReference(const Simulation& sim, const FakeModelOptions& model,
                           const std::string& name, int max_tokens, AttentionPolicy policy = {}) {
  SamplingParams greedy;
  greedy.temperature = 0;
  greedy.max_tokens = max_tokens;
  greedy.ignore_eos = true;
  INFO("request " << name);
  REQUIRE(sim.outputs().count(name) == 1);
  CHECK(sim.outputs().at(name) == FakeReferenceIds(model, sim.Prompt(name), greedy, policy));
}

TEST_CASE("scheduler: chunked prefill under a token budget, then decode") {
  Simulation sim(/*num_blocks=*/16, /*block_size=*/4, /*max_batched_tokens=*/8,
                 /*max_num_seqs=*/4, /*prefix_cache=*/false);
  sim.Run({
      {{{"A", 10, 2}, {"B", 3, 2}}, {}, "A:8", "", "B", "A[0 1]"},
      {{}, {}, "A:2 B:3", "", "", "A[0 1 2] B[3]"},
      {{}, {}, "A:1 B:1", "", "", ""},
  });
  CHECK(sim.memory().num_free_blocks() == 16);
}

TEST_CASE("scheduler: decode tokens are scheduled before prefill chunks") {
  Simulation sim(16, 4, 8, 4, false);
  sim.Run({
      {{{"A", 2, 3}}, {}, "A:2", "", "", "A[0]"},
      {{{"B", 12, 2}}, {}, "A:1 B:7", "", "", "A[0] B[1 2]"},
      // B arrived later but A decodes first; B's prefill gets what is left of the budget.
      {{}, {}, "A:1 B:5", "", "", "B[1 2 3]"},
  });
}

TEST_CASE("scheduler: preemption by recompute of the newest request") {
  Simulation sim(/*num_blocks=*/4, /*block_size=*/4, /*max_batched_tokens=*/16, 4, false);
  sim.Run({
      {{{"A", 6, 8}, {"B", 5, 8, 0, 20}}, {}, "A:6 B:5", "", "", "A[0 1] B[2 3]"},
      {{}, {}, "A:1 B:1", "", "", "A[0 1] B[2 3]"},
      {{}, {}, "A:1 B:1", "", "", "A[0 1] B[2 3]"},
      // A needs a third block: B (newest) is preempted, its blocks freed; no admission.
      {{}, {}, "A:1", "B", "B", "A[0 1 2]"},
      {{}, {}, "A:1", "", "B", "A[0 1 2]"},
      {{}, {}, "A:1", "", "B", "A[0 1 2]"},
      {{}, {}, "A:1", "", "B", "A[0 1 2]"},
      {{}, {}, "A:1", "", "B", ""},  // A takes block 3 and finishes
      // B comes back: prompt + its 3 generated tokens are prefilled again.
      {{}, {}, "B:8", "", "", "B[0 1]"},
      {{}, {}, "B:1", "", "", "B[0 1 2]"},
      {{}, {}, "B:1", "", "", "B[0 1 2]"},
      {{}, {}, "B:1", "", "", "B[0 1 2]"},
      {{}, {}, "B:1", "", "", ""},
  });
  FakeModelOptions model;
  CheckMatchesReference(sim, model, "A", 8);
  CheckMatchesReference(sim, model, "B", 8);
  CHECK(sim.scheduler().preemptions_total() == 1);
  CHECK(sim.memory().num_free_blocks() == 4);
}

TEST_CASE("scheduler: priorities order admission and choose the preemption victim") {
  Simulation sim(/*num_blocks=*/4, 4, 16, /*max_num_seqs=*/2, false);
  sim.Run({
      {{{"Z", 2, 10, /*priority=*/1}}, {}, "Z:2", "", "", "Z[0]"},
      {{{"Y", 4, 6, 0, 30}, {"X", 2, 1, 2, 50}, {"W", 2, 1, 0, 60}},
       {},
       "Z:1 Y:4",
       "",
       "W X",
       "Y[1] Z[0]"},
      {{}, {}, "Y:1 Z:1", "", "W X", "Y[1 2] Z[0]"},
      {{}, {}, "Y:1 Z:1", "", "W X", "Y[1 2] Z[0 3]"},
      {{}, {}, "Y:1 Z:1", "", "W X", "Y[1 2] Z[0 3]"},
      {{}, {}, "Y:1 Z:1", "", "W X", "Y[1 2] Z[0 3]"},
      // Y needs a block: Z (priority 1) is the victim though it arrived first. Y then finishes.
      {{}, {}, "Y:1", "Z", "W Z X", ""},
      // W (priority 0) and Z (priority 1, earlier than X) run before X (priority 2).
      {{}, {}, "W:2 Z:8", "", "X", "Z[0 2]"},
  });
  FakeModelOptions model;
  CheckMatchesReference(sim, model, "Y", 6);
  CheckMatchesReference(sim, model, "W", 1);
}

TEST_CASE("scheduler: prefix cache hits, LRU reuse, and a hit never covers the whole prompt") {
  Simulation sim(/*num_blocks=*/6, /*block_size=*/4, 16, 4, /*prefix_cache=*/true);
  sim.Run({
      {{{"A", 10, 2}}, {}, "A:10", "", "", "A[0 1 2]"},
      {{}, {}, "A:1", "", "", ""},  // A's blocks 0 and 1 stay cached after it finishes
      // B shares A's first 8 tokens: 2 blocks hit, only 3 tokens computed.
      {{{"B", 11, 1}}, {}, "B:3", "", "", ""},
      // C is exactly A's first 8 tokens: at most 1 block may hit, 4 tokens are computed.
      {{{"C", 8, 1}}, {}, "C:4", "", "", ""},
  });
  CHECK(sim.scheduler().prefix_hit_tokens_total() == 12);
  FakeModelOptions model;
  CheckMatchesReference(sim, model, "A", 2);
  CheckMatchesReference(sim, model, "B", 1);
  CheckMatchesReference(sim, model, "C", 1);
}

TEST_CASE("scheduler: a request's fresh blocks are handed out in ascending physical order") {
  // A finished request's cached blocks go back to the free list tail first, so evicting them
  // yields its table backwards; the GPU prefill loads runs of adjacent blocks in one TMA box.
  Simulation sim(/*num_blocks=*/6, /*block_size=*/4, 32, 4, /*prefix_cache=*/true);
  sim.Run({
      {{{"A", 24, 1}}, {}, "A:24", "", "", ""},
      {{{"B", 16, 2, 0, 100}}, {}, "B:16", "", "", "B[2 3 4 5]"},
      {{}, {}, "B:1", "", "", ""},
  });
  FakeModelOptions model;
  CheckMatchesReference(sim, model, "B", 2);
}

TEST_CASE("scheduler: cancellation frees blocks and slots in that step") {
  FakeModelOptions model;
  model.recurrent_layer = true;
  Simulation sim(8, 4, 16, 2, false, model);
  sim.Run({
      {{{"A", 6, 5}, {"B", 6, 5, 0, 30}, {"C", 3, 2, 0, 40}},
       {},
       "A:6 B:6",
       "",
       "C",
       "A[0 1] B[2 3]"},
      {{}, {"A"}, "B:1 C:3", "", "", "B[2 3] C[0]"},
      {{}, {"B"}, "C:1", "", "", ""},
  });
  CHECK(sim.memory().num_free_blocks() == 8);
  CHECK(sim.memory().num_free_state_slots() == 2);
  CheckMatchesReference(sim, model, "C", 2);
}

TEST_CASE("scheduler: window policy releases blocks that left the window, keeps the sinks") {
  AttentionPolicy window{AttentionPolicy::Mode::kWindow, /*window=*/8, /*num_sinks=*/2};
  Simulation sim(/*num_blocks=*/8, /*block_size=*/4, /*max_batched_tokens=*/4, 4, false);
  Add a{"A", 20, 4};
  a.policy = window;
  sim.Run({
      {{a}, {}, "A:4", "", "", "A[0]"},
      {{}, {}, "A:4", "", "", "A[0 1]"},
      {{}, {}, "A:4", "", "", "A[0 1 2]"},
      {{}, {}, "A:4", "", "", "A[0 - 2 3]"},    // block 1 (positions 4-7) left the window
      {{}, {}, "A:4", "", "", "A[0 - - 3 1]"},  // the freed block 1 is reused at once
      {{}, {}, "A:1", "", "", "A[0 - - 3 1 2]"},
      {{}, {}, "A:1", "", "", "A[0 - - 3 1 2]"},
      {{}, {}, "A:1", "", "", ""},
  });
  FakeModelOptions model;
  CheckMatchesReference(sim, model, "A", 4, window);
}

TEST_CASE("scheduler: a model whose attention layers slide bounds every request's blocks") {
  FakeModelOptions model;
  model.sliding_window = 5;
  // 14 tokens would need 7 blocks of 2; the window (5) + one chunk (2) fits in 4.
  Simulation sim(/*num_blocks=*/4, /*block_size=*/2, /*max_batched_tokens=*/2, 4, false, model);
  REQUIRE(MaxLiveBlocks(14, {5, 0}, 2, 2) == 4);
  sim.Run({{{{"A", 2, 12}}, {}, "A:2", "", "", "A[0]"}});
  // Blocks wholly below position num_computed - 5 + 1 are released after each step.
  for (const char* blocks :
       {"A[0 1]", "A[0 1]", "A[0 1 2]", "A[- 1 2]", "A[- 1 2 0]", "A[- - 2 0]", "A[- - 2 0 1]",
        "A[- - - 0 1]", "A[- - - 0 1 2]", "A[- - - - 1 2]", ""})
    sim.Run({{{}, {}, "A:1", "", "", blocks}});
  CheckMatchesReference(sim, model, "A", 12);
  CHECK(sim.scheduler().preemptions_total() == 0);
}

}  // namespace
}  // namespace junction::testing
