// junction-bench scheduler: host time of the scheduler + memory manager per step (Schedule +
// Update, no model) with N running requests in steady decode, and with churn (requests finish
// and new ones with shared prefixes arrive, prefix cache on).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "absl/strings/numbers.h"
#include "bench/bench_registry.h"
#include "engine/runtime/scheduler.h"

namespace junction::bench {
namespace {

struct SchedulerBenchOptions {
  int num_requests = 256;
  int num_steps = 2000;
  int block_size = 16;
  int prompt_tokens = 512;
};

struct Timing {
  double mean_us = 0, p50_us = 0, p99_us = 0;
  int tokens_per_step = 0;
  // Of the consecutive block pairs in the tables of prefill chunks, the fraction
  // whose physical ids follow one another: the GPU prefill loads such pairs in one TMA box.
  double adjacent_pairs = 0;
};

Timing Summarize(std::vector<double>& us, int tokens) {
  std::sort(us.begin(), us.end());
  Timing t;
  for (double v : us) t.mean_us += v / us.size();
  t.p50_us = us[us.size() / 2];
  t.p99_us = us[us.size() * 99 / 100];
  t.tokens_per_step = tokens;
  return t;
}

// Runs `options.num_steps` timed steps after warm-up. With `churn`, a request finishes after
// 16-79 generated tokens and a new one (sharing one of 8 prompt prefixes) takes its place.
Timing RunScenario(const SchedulerBenchOptions& options, bool churn) {
  const int bs = options.block_size;
  const int tokens_per_request = options.prompt_tokens + options.num_steps + 128;
  const int num_blocks = options.num_requests * ((tokens_per_request + bs - 1) / bs) + 16;
  MemoryManager memory(num_blocks, bs, options.num_requests, /*prefix_cache=*/churn);
  SchedulerConfig config;
  config.max_num_seqs = options.num_requests;
  config.max_batched_tokens = 8192;
  config.needs_state_slots = true;
  Scheduler scheduler(config, memory);
  std::mt19937 rng(1);
  int64_t next_id = 1;
  auto add = [&] {
    SchedulerRequest r;
    r.id = RequestId(next_id++);
    r.arrival = r.id.value;
    const int prefix = static_cast<int>(rng() % 8);
    for (int i = 0; i < options.prompt_tokens; ++i)
      r.tokens.push_back(i < options.prompt_tokens / 2 ? prefix * 1000 + i : rng() % 32000);
    r.num_prompt_tokens = options.prompt_tokens;
    r.prefix_cacheable = true;
    scheduler.Add(std::move(r));
  };
  for (int i = 0; i < options.num_requests; ++i) add();
  std::vector<TokenId> sampled;
  int64_t pairs = 0, adjacent = 0;
  auto step = [&] {
    StepBatch batch = scheduler.Schedule();
    for (const ScheduledChunk& c : batch.chunks) {
      if (c.num_tokens <= 1) continue;
      for (size_t i = 1; i < c.block_table.size(); ++i, ++pairs)
        adjacent += c.block_table[i].value == c.block_table[i - 1].value + 1;
    }
    sampled.assign(batch.NumLogitRows(), 7);
    scheduler.Update(sampled);
    if (churn)
      for (RequestId id : scheduler.running())
        if (scheduler.Find(id)->num_generated() >= 16 + id.value % 64) {
          scheduler.Remove(id);
          add();
        }
    return batch.num_tokens();
  };
  while (scheduler.num_waiting() > 0) step();
  for (int s = 0; s < (churn ? 200 : 10); ++s) step();
  std::vector<double> us;
  int tokens = 0;
  for (int s = 0; s < options.num_steps; ++s) {
    const auto start = std::chrono::steady_clock::now();
    tokens = step();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  Timing t = Summarize(us, tokens);
  t.adjacent_pairs = pairs > 0 ? double(adjacent) / pairs : 0;
  return t;
}

bool ParseArgs(const std::vector<std::string>& args, SchedulerBenchOptions& o) {
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    int* target = args[i] == "--requests"        ? &o.num_requests
                  : args[i] == "--steps"         ? &o.num_steps
                  : args[i] == "--block-size"    ? &o.block_size
                  : args[i] == "--prompt-tokens" ? &o.prompt_tokens
                                                 : nullptr;
    if (target == nullptr || !absl::SimpleAtoi(args[i + 1], target) || *target <= 0) return false;
  }
  return args.size() % 2 == 0;
}

}  // namespace

JUNCTION_BENCHMARK(scheduler,
                   "scheduler + memory manager time per step with N running requests "
                   "[--requests 256 --steps 2000 --block-size 16 --prompt-tokens 512]") {
  SchedulerBenchOptions options;
  if (!ParseArgs(args, options)) {
    std::fprintf(stderr,
                 "usage: junction-bench scheduler [--requests N] [--steps N] "
                 "[--block-size N] [--prompt-tokens N]\n");
    return 2;
  }
  std::printf(
      "scheduler + memory manager, %d running requests, block size %d, prompt %d, "
      "%d timed steps\n",
      options.num_requests, options.block_size, options.prompt_tokens, options.num_steps);
  std::printf("%-34s %10s %10s %10s %8s %9s\n", "scenario", "mean us", "p50 us", "p99 us", "tokens",
              "adjacent");
  for (bool churn : {false, true}) {
    const Timing t = RunScenario(options, churn);
    std::printf("%-34s %10.1f %10.1f %10.1f %8d %8.1f%%\n",
                churn ? "decode + churn (prefix cache on)" : "steady decode", t.mean_us, t.p50_us,
                t.p99_us, t.tokens_per_step, 100 * t.adjacent_pairs);
  }
  return 0;
}

}  // namespace junction::bench
