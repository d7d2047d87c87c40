// Window mode (sinks + sliding window, StreamingLLM) through the whole engine on the CPU: a
// generation far past the model's window holds a constant number of KV blocks and finishes.
#include <algorithm>
#include <catch2/catch.hpp>

#include "tests/support/cpu_engine.h"
#include "tests/support/golden.h"

namespace junction::testing {

TEST_CASE("window mode: 20,000 greedy tokens with a constant KV block count", "[engine][window]") {
  EngineConfig config;
  config.attention_policy = "window";
  config.window_sinks = 4;
  config.window_size = 64;
  config.kv_memory_bytes = 4 << 20;
  CpuEngine cpu = MakeCpuEngine(TestDataDir() + "/golden/llama/model", config);
  GenerateRequest request;
  request.prompt = {5, 77, 120, 9, 31, 200, 18, 4, 250, 63};
  request.sampling.temperature = 0;
  request.sampling.max_tokens = 20000;
  request.sampling.ignore_eos = true;
  auto stream = cpu.engine->Submit(request);
  INFO(stream.status().ToString());
  REQUIRE(stream.ok());
  CHECK((*stream)->plan().attention_policy == "window");
  // Block counts seen while the window fills (first 200 tokens) and after.
  int generated = 0, peak_after_fill = 0, low_after_fill = 1 << 30;
  GenerationDelta last;
  while (auto delta = (*stream)->Next()) {
    generated += static_cast<int>(delta->token_ids.size());
    // One snapshot of the engine's stats: the reader can lag behind the engine, which may have
    // finished the request and freed its blocks while earlier deltas are still being read, so a
    // count only speaks of the request while the same snapshot still shows it running.
    const EngineStats stats = cpu.engine->Stats();
    if (generated > 200 && stats.running_requests == 1) {
      peak_after_fill = std::max(peak_after_fill, stats.kv_blocks_used);
      low_after_fill = std::min(low_after_fill, stats.kv_blocks_used);
    }
    last = std::move(*delta);
  }
  INFO("generated " << generated << ", blocks after the window filled: " << low_after_fill << ".."
                    << peak_after_fill);
  CHECK(last.finish == FinishReason::kLength);
  CHECK(generated == 20000);
  // The sinks' block, the window's blocks, and one being filled: never more, however long.
  const int bound = 1 + (config.window_size + 15) / 16 + 1;
  CHECK(peak_after_fill <= bound);
  CHECK(peak_after_fill - low_after_fill <= 1);
  CHECK(peak_after_fill > 0);
}

}  // namespace junction::testing
