// MemoryManager (block pool, prefix cache, LRU, slots), memory budget formulas, engine config
// validation and engine flags.
#include <catch2/catch.hpp>

#include "engine/model/model_config.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/memory_budget.h"
#include "engine/runtime/memory_manager.h"
#include "tests/support/golden.h"

namespace junction::testing {
namespace {

TEST_CASE("memory manager: allocation, release, refcounts and slots") {
  MemoryManager memory(4, 2, 2, /*prefix_cache=*/false);
  const BlockId a = memory.Allocate(), b = memory.Allocate();
  CHECK(a.value == 0);
  CHECK(b.value == 1);
  CHECK(memory.num_free_blocks() == 2);
  memory.Release(a);
  CHECK(memory.Allocate().value == 0);  // uncached free blocks are reused first
  CHECK(memory.CheckInvariants() == "");
  const auto s0 = memory.AllocateSlot(), s1 = memory.AllocateSlot();
  REQUIRE((s0 && s1));
  CHECK(!memory.AllocateSlot().has_value());
  memory.ReleaseSlot(*s0);
  CHECK(memory.num_free_state_slots() == 1);
  CHECK(memory.CheckInvariants() == "");
}

TEST_CASE("memory manager: prefix cache publish, hit, revive and LRU eviction") {
  MemoryManager memory(3, 2, 0, /*prefix_cache=*/true);
  const std::vector<TokenId> t1 = {1, 2}, t2 = {3, 4};
  const uint64_t h1 = ChainBlockHash(kRootBlockHash, t1);
  const uint64_t h2 = ChainBlockHash(h1, t2);
  CHECK(h2 != ChainBlockHash(kRootBlockHash, t2));  // the chain matters
  const BlockId b1 = memory.Allocate(), b2 = memory.Allocate();
  CHECK(memory.Publish(b1, h1, t1));
  CHECK(memory.Publish(b2, h2, t2));
  CHECK(!memory.Publish(b2, h2, t2));  // already cached
  CHECK(memory.FindCached(h1, t1) == b1);
  CHECK(!memory.FindCached(h1, t2).has_value());  // same hash, other tokens: no hit
  memory.Acquire(b1);
  CHECK(memory.refcount(b1) == 2);
  memory.Release(b1);
  memory.Release(b1);
  memory.Release(b2);
  CHECK(memory.num_free_blocks() == 3);
  CHECK(memory.num_cached_blocks() == 2);
  memory.Acquire(b2);  // revived from the free list
  CHECK(memory.num_free_blocks() == 2);
  memory.Release(b2);
  // Free list: the uncached block, then b1 (released first), then b2.
  CHECK(memory.Allocate().value == 2);
  CHECK(memory.Allocate() == b1);
  CHECK(!memory.FindCached(h1, t1).has_value());  // evicted on reuse
  CHECK(memory.FindCached(h2, t2) == b2);
  CHECK(memory.CheckInvariants() == "");
}

TEST_CASE("memory budget: bytes per block and slot, geometry from the budget") {
  auto spec = LoadModelSpec(TestDataDir() + "/golden/llama/model");
  REQUIRE(spec.ok());
  // 2 layers x 16 tokens x 2 kv heads x head_dim 16 x (K, V) x 4 bytes.
  CHECK(KvBytesPerBlock(*spec, 16) == 2 * 16 * 2 * 16 * 2 * 4);
  CHECK(StateBytesPerSlot(*spec) == 0);
  MemoryBudgetInput input;
  input.max_num_seqs = 4;
  auto budget = ComputeMemoryBudget(*spec, input);
  REQUIRE(budget.ok());
  // The default is capped at 4 requests x 4096 tokens / 16 per block.
  CHECK(budget->geometry.num_blocks == 4 * 256);
  CHECK(budget->geometry.num_state_slots == 0);
  input.kv_memory_bytes = 100 * 8192 + 5;
  CHECK(ComputeMemoryBudget(*spec, input)->geometry.num_blocks == 100);
  input.kv_memory_bytes = 100;
  CHECK(absl::IsResourceExhausted(ComputeMemoryBudget(*spec, input).status()));

  ModelSpec mamba;
  mamba.max_context = 1024;
  Mamba2Spec m;
  m.num_heads = 4;
  m.head_dim = 8;
  m.state_size = 16;
  m.num_groups = 2;
  m.conv_kernel = 4;
  m.inner_size = 32;
  LayerSpec layer;
  layer.mixer = MixerSpec{MixerKind::kMamba2, m, ""};
  mamba.layers = {layer, layer};
  // conv window [32 + 2*2*16, 4] + SSM state [4, 8, 16], fp32, per layer.
  CHECK(StateBytesPerSlot(mamba) == 2 * ((96 * 4) + 4 * 8 * 16) * 4);
  CHECK(NeedsStateSlots(mamba));
  CHECK(KvBytesPerBlock(mamba, 16) == 0);
  input.kv_memory_bytes = 0;
  auto recurrent = ComputeMemoryBudget(mamba, input);
  REQUIRE(recurrent.ok());
  CHECK(recurrent->geometry.num_state_slots == 4);
  CHECK(recurrent->geometry.num_blocks == 0);
}

TEST_CASE("engine flags: parsing, sizes and validation reporting every problem") {
  std::vector<std::string> args = {"x",
                                   "--kv-memory",
                                   "512M",
                                   "--block-size=32",
                                   "--no-prefix-cache",
                                   "--max-seqs",
                                   "8",
                                   "--attention-policy",
                                   "window",
                                   "--window-sinks",
                                   "2",
                                   "--window-size",
                                   "100",
                                   "--unrelated"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  EngineConfig config;
  std::vector<std::string> problems;
  int i = 1;
  for (; i < static_cast<int>(argv.size()); ++i)
    if (!ParseEngineFlag(static_cast<int>(argv.size()), argv.data(), &i, config, problems)) break;
  CHECK(std::string(argv[i]) == "--unrelated");
  CHECK(problems.empty());
  CHECK(config.kv_memory_bytes == 512LL << 20);
  CHECK(config.block_size == 32);
  CHECK(!config.prefix_cache);
  CHECK(config.max_num_seqs == 8);
  CHECK(config.attention_policy == "window");
  CHECK(config.window_sinks == 2);
  CHECK(config.window_size == 100);
  CHECK(config.Validate().ok());
  for (const auto& [text, bytes] : std::vector<std::pair<std::string, int64_t>>{
           {"2G", 2LL << 30}, {"1024", 1024}, {"1.5GiB", 3LL << 29}, {"64kb", 65536}}) {
    std::string flag = "--kv-memory=" + text;
    char* one[] = {flag.data()};
    int index = 0;
    REQUIRE(ParseEngineFlag(1, one, &index, config, problems));
    CHECK(config.kv_memory_bytes == bytes);
  }
  CHECK(problems.empty());
  std::string bad = "--kv-memory=lots", missing = "--max-seqs";
  char* bad_argv[] = {bad.data(), missing.data()};
  int index = 0;
  ParseEngineFlag(2, bad_argv, &index, config, problems);
  index = 1;
  ParseEngineFlag(2, bad_argv, &index, config, problems);
  CHECK(problems.size() == 2);
  EngineConfig invalid;
  invalid.block_size = 0;
  invalid.attention_policy = "sometimes";
  const absl::Status status = invalid.Validate();
  CHECK(status.message().find("block_size") != std::string::npos);
  CHECK(status.message().find("attention_policy") != std::string::npos);
  CHECK(EngineFlagsUsage().find("--kv-memory") != std::string::npos);
}

}  // namespace
}  // namespace junction::testing
