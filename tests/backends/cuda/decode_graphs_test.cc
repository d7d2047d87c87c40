// CUDA graphs of decode steps: the capture policy and LRU (no device needed), and the llama
// fixture decoding with graphs on against the same runner kind with graphs off: identical logits
// and ids across batch sizes and context growth that changes the flash plan (and so the keys).
#include "backends/cuda/decode_graphs.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "tests/backends/cuda/fixture_check.h"

namespace junction::cuda::testing {
namespace {

using Action = GraphLru::Action;

TEST_CASE("graph lru: eager, then capture, then replay; refusals; eviction", "[cuda][graphs]") {
  std::vector<intptr_t> released;
  {
    GraphLru lru(3, [&](void* g) { released.push_back(reinterpret_cast<intptr_t>(g)); });
    void* graph = nullptr;
    const GraphKey a = {1, 2}, b = {1, 3}, c = {4}, d = {5, 6, 7}, e = {8};
    CHECK(lru.Next(a, &graph) == Action::kEager);
    CHECK(lru.Next(a, &graph) == Action::kCapture);
    lru.Store(a, reinterpret_cast<void*>(101));
    graph = nullptr;
    CHECK(lru.Next(a, &graph) == Action::kReplay);
    CHECK(graph == reinterpret_cast<void*>(101));
    CHECK(lru.Next(b, &graph) == Action::kEager);
    CHECK(lru.Next(b, &graph) == Action::kCapture);
    lru.Refuse(b);  // a failed capture: eager for good
    CHECK(lru.Next(b, &graph) == Action::kEager);
    CHECK(lru.Next(b, &graph) == Action::kEager);
    CHECK(lru.num_graphs() == 1);
    CHECK(lru.Next(c, &graph) == Action::kEager);
    CHECK(lru.num_keys() == 3);
    CHECK(released.empty());
    // d evicts the least recently used key, a (used before b and c): its graph is released.
    CHECK(lru.Next(d, &graph) == Action::kEager);
    CHECK(lru.num_keys() == 3);
    REQUIRE(released.size() == 1);
    CHECK(released[0] == 101);
    CHECK(lru.Next(a, &graph) == Action::kEager);  // forgotten: a first sighting again
    CHECK(lru.Next(a, &graph) == Action::kCapture);
    lru.Store(a, reinterpret_cast<void*>(102));
    CHECK(lru.Next(d, &graph) == Action::kCapture);
    lru.Store(d, reinterpret_cast<void*>(103));
    // e evicts the least recently used key, c, which has no graph to release.
    CHECK(lru.Next(e, &graph) == Action::kEager);
    CHECK(lru.Next(a, &graph) == Action::kReplay);
    CHECK(graph == reinterpret_cast<void*>(102));
    CHECK(released.size() == 1);
  }
  // The destructor releases what is left: a's and d's graphs.
  std::sort(released.begin(), released.end());
  CHECK(released == std::vector<intptr_t>{101, 102, 103});
}

// One step of the schedule below: request r owns blocks [24 r, 24 r + 24) (384 tokens).
StepBatch DecodeStep(const std::vector<std::vector<TokenId>>& tokens,
                     const std::vector<int>& num_computed, const std::vector<int>& active) {
  StepBatch batch;
  for (int r : active) {
    ScheduledChunk c;
    c.request = RequestId(r + 1);
    c.first_token = batch.num_tokens();
    c.num_computed = num_computed[r];
    c.num_tokens = static_cast<int>(tokens[r].size()) - num_computed[r];
    c.state_slot = StateSlotId(r);  // recurrent layers' state (ignored by attention)
    for (int b = 0; b < (c.num_computed + c.num_tokens + 15) / 16; ++b)
      c.block_table.push_back(BlockId(24 * r + b));
    batch.token_ids.insert(batch.token_ids.end(), tokens[r].begin() + num_computed[r],
                           tokens[r].end());
    batch.chunks.push_back(std::move(c));
  }
  return batch;
}

// Runs the fixture `name` twice, with and without graphs, through the same decode schedule and
// requires equal logits and ids, every decode step keyed and most of them replayed (so every
// layer of the model opts in).
void CheckGraphsMatchEager(const std::string& name) {
  INFO("fixture " << name);
  junction::testing::GoldenCase golden = junction::testing::LoadGoldenCase(name);
  REQUIRE(golden.prompts.size() == 4);
  auto make = [&](bool graphs) {
    auto spec = LoadModelSpec(golden.model_dir);
    REQUIRE(spec.ok());
    auto weights = WeightStore::Open(golden.model_dir);
    REQUIRE(weights.ok());
    CudaRunnerOptions options;
    options.cache = {16, 96, 4};
    options.cuda_graphs = graphs;
    auto runner = CreateCudaModelRunner(
        *spec, std::shared_ptr<const WeightStore>(std::move(*weights)), CudaRegistry(), options);
    INFO(runner.status().ToString());
    REQUIRE(runner.ok());
    return std::move(*runner);
  };
  auto graphed = make(true), eager = make(false);
  const int vocab = eager->spec().vocab_size;
  std::vector<std::vector<TokenId>> tokens = golden.prompts;
  std::vector<int> num_computed(4, 0);
  // Prefill all four, decode all four, then three, then one alone to 300+ tokens (the flash
  // split count grows with the context), then two: batch sizes and keys change along the way.
  std::vector<std::vector<int>> schedule;
  schedule.push_back({0, 1, 2, 3});
  for (int s = 0; s < 40; ++s) schedule.push_back({0, 1, 2, 3});
  for (int s = 0; s < 30; ++s) schedule.push_back({0, 2, 3});
  for (int s = 0; s < 170; ++s) schedule.push_back({3});
  for (int s = 0; s < 30; ++s) schedule.push_back({1, 2});
  // Request 1's rows are sampled on the device (seeded), the others come back to the host.
  RowSampling sampled;
  sampled.on_device = true;
  sampled.temperature = 0.9f;
  sampled.top_k = 30;
  sampled.seed = 99;
  int compared_rows = 0;
  for (size_t step = 0; step < schedule.size(); ++step) {
    INFO("step " << step);
    const StepBatch batch = DecodeStep(tokens, num_computed, schedule[step]);
    std::vector<RowSampling> rows;
    for (int r : schedule[step]) {
      RowSampling row = r == 1 ? sampled : RowSampling{};
      row.offset = step;
      rows.push_back(row);
    }
    std::vector<float> want, got;
    std::vector<TokenId> want_ids, got_ids;
    REQUIRE(eager->ForwardAndSample(batch, rows, want_ids, want).ok());
    got = {-1.0f};
    const absl::Status status = graphed->ForwardAndSample(batch, rows, got_ids, got);
    INFO(status.ToString());
    REQUIRE(status.ok());
    REQUIRE(got.size() == want.size());
    for (float v : got) REQUIRE(std::isfinite(v));
    // The same kernels in the same order on the same data: equal up to 1e-6.
    CHECK(RelativeL2(got, want) <= 1e-6);
    CHECK(got_ids == want_ids);
    compared_rows += static_cast<int>(want.size() / vocab);
    size_t host_row = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      const int r = schedule[step][i];
      TokenId next = want_ids[i];
      if (!rows[i].on_device) {
        const float* row = want.data() + host_row++ * vocab;
        next = static_cast<TokenId>(std::max_element(row, row + vocab) - row);
      }
      REQUIRE(next >= 0);
      REQUIRE(next < vocab);
      num_computed[r] = static_cast<int>(tokens[r].size());
      tokens[r].push_back(next);
    }
  }
  REQUIRE(tokens[3].size() > 300);
  const DecodeGraphStats on = CudaDecodeGraphStats(*graphed);
  const DecodeGraphStats off = CudaDecodeGraphStats(*eager);
  WARN(name << " graphs: " << on.replayed_steps << " replays, " << on.captured_steps
            << " captures, " << on.eager_steps << " eager keyed steps, " << on.failed_captures
            << " failed captures over " << schedule.size() - 1 << " decode steps");
  CHECK(on.failed_captures == 0);
  CHECK(on.captured_steps >= 4);  // several batch sizes and split counts
  CHECK(on.replayed_steps >= 150);
  CHECK(on.replayed_steps + on.captured_steps + on.eager_steps ==
        static_cast<int64_t>(schedule.size()) - 1);  // every decode step is keyed; prefill not
  CHECK(off.replayed_steps + off.captured_steps + off.eager_steps == 0);
  CHECK(compared_rows > 300);
}

TEST_CASE("cuda graphs: decode steps replayed give the eager steps' logits and ids",
          "[gpu][cuda][graphs][runner]") {
  if (!HaveGpu()) return;
  // Attention alone; Gated DeltaNet + gated attention (Qwen3.5); Mamba2 + attention; PaTH with
  // its forget gate.
  for (const char* name : {"llama", "qwen3_5_gdn", "granite_hybrid", "fla_path_fox"})
    CheckGraphsMatchEager(name);
}

}  // namespace
}  // namespace junction::cuda::testing
