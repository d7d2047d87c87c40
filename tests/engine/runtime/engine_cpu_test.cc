// Batch invariance on the real CPU backend (tests/golden/{llama,qwen3}): 16 greedy prompts of
// varied lengths give the same ids alone and inside one batch (with chunked prefill and decode
// mixed), the same ids as SequentialGenerator, and a prefix-cache hit gives the ids of a miss.
#include <catch2/catch.hpp>
#include <random>

#include "backends/cpu/cpu_backends.h"
#include "engine/generation/sequential_generator.h"
#include "engine/runtime/engine.h"
#include "tests/support/cpu_engine.h"
#include "tests/support/golden.h"

namespace junction::testing {
namespace {

GenerateRequest Greedy(std::vector<TokenId> prompt, int max_tokens) {
  GenerateRequest r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0;
  r.sampling.max_tokens = max_tokens;
  r.sampling.ignore_eos = true;
  return r;
}

std::vector<TokenId> Run(EngineApi& engine, const GenerateRequest& request, int* cached = nullptr) {
  auto stream = engine.Submit(request);
  INFO(stream.status().ToString());
  REQUIRE(stream.ok());
  std::vector<TokenId> ids;
  while (auto delta = (*stream)->Next()) {
    ids.insert(ids.end(), delta->token_ids.begin(), delta->token_ids.end());
    REQUIRE(delta->finish != FinishReason::kError);
    if (cached) *cached = delta->usage.cached_prompt_tokens;
  }
  return ids;
}

void CheckBatchInvariance(const std::string& name) {
  const std::string model_dir = TestDataDir() + "/golden/" + name + "/model";
  std::mt19937 rng(1234);
  std::vector<GenerateRequest> requests;
  for (int i = 0; i < 16; ++i) {
    std::vector<TokenId> prompt(1 + (i * 13) % 70);
    for (TokenId& t : prompt) t = static_cast<TokenId>(rng() % 256);
    requests.push_back(Greedy(std::move(prompt), 6 + i % 5));
  }
  // Reference: each prompt alone through the SequentialGenerator.
  std::vector<std::vector<TokenId>> expected;
  {
    auto runner = MakeCpuRunner(model_dir, /*num_blocks=*/16);
    SequentialGenerator generator(*runner);
    for (const GenerateRequest& r : requests) {
      auto result = generator.Generate(r.prompt, r.sampling, {});
      REQUIRE(result.ok());
      expected.push_back(result->ids);
    }
  }
  EngineConfig config;
  config.max_num_seqs = 16;
  config.max_batched_tokens = 48;  // prefill chunks and decode tokens share steps
  config.prefix_cache = false;
  CpuEngine alone = MakeCpuEngine(model_dir, config);
  for (size_t i = 0; i < requests.size(); ++i) {
    INFO(name << " prompt " << i << " alone");
    CHECK(Run(*alone.engine, requests[i]) == expected[i]);
  }
  CpuEngine batched = MakeCpuEngine(model_dir, config);
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (const GenerateRequest& r : requests) streams.push_back(*batched.engine->Submit(r));
  for (size_t i = 0; i < streams.size(); ++i) {
    INFO(name << " prompt " << i << " in the batch");
    std::vector<TokenId> ids;
    while (auto delta = streams[i]->Next())
      ids.insert(ids.end(), delta->token_ids.begin(), delta->token_ids.end());
    CHECK(ids == expected[i]);
  }
  // Prefix cache: the second run of a 40-token prompt reuses two blocks and gives the same ids.
  config.prefix_cache = true;
  CpuEngine cached = MakeCpuEngine(model_dir, config);
  const GenerateRequest& long_one = requests[3];  // 40 tokens
  REQUIRE(long_one.prompt.size() == 40);
  int hit = -1;
  CHECK(Run(*cached.engine, long_one, &hit) == expected[3]);
  CHECK(hit == 0);
  CHECK(Run(*cached.engine, long_one, &hit) == expected[3]);
  CHECK(hit == 32);
  CHECK(cached.engine->Stats().prefix_cache_hit_tokens_total == 32);
}

TEST_CASE("engine on the CPU backend: batch invariance and prefix cache, llama") {
  CheckBatchInvariance("llama");
}

TEST_CASE("engine on the CPU backend: batch invariance and prefix cache, qwen3") {
  CheckBatchInvariance("qwen3");
}

}  // namespace
}  // namespace junction::testing
