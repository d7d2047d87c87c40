// Whole Llama-family models on the GPU in bf16 against the CPU float32 runner on the golden
// fixtures: logits of every prompt position, chunked prefill, and greedy decoding; and the
// runner's device sampling (ForwardAndSample) against its own logits sampled on the host.
#include "backends/cuda/attention_layer.h"
#include "backends/cuda/kernels/sampling.h"
#include "tests/backends/cuda/fixture_check.h"

namespace junction::cuda::testing {
namespace {

void CheckModel(const std::string& name) {
  CheckModelOnGpu(name, {{MixerKind::kAttention, "cuda.flash"}});
}

TEST_CASE("cuda runner matches cpu: llama", "[gpu][cuda]") {
  if (HaveGpu()) CheckModel("llama");
}
TEST_CASE("cuda runner matches cpu: llama3_rope", "[gpu][cuda]") {
  if (HaveGpu()) CheckModel("llama3_rope");
}
TEST_CASE("cuda runner matches cpu: llama_yarn", "[gpu][cuda]") {
  if (HaveGpu()) CheckModel("llama_yarn");
}
TEST_CASE("cuda runner matches cpu: qwen2_bias", "[gpu][cuda]") {
  if (HaveGpu()) CheckModel("qwen2_bias");
}
TEST_CASE("cuda runner matches cpu: qwen3", "[gpu][cuda]") {
  if (HaveGpu()) CheckModel("qwen3");
}

// One step over the fixture's prompts: request r owns blocks [16 r, 16 r + 16) (256 tokens).
// The first step prefills every prompt (request 2 asks for all its rows, the others for the
// last); later steps decode one token each.
StepBatch SamplingStep(const std::vector<std::vector<TokenId>>& tokens,
                       const std::vector<int>& num_computed) {
  StepBatch batch;
  for (size_t r = 0; r < tokens.size(); ++r) {
    ScheduledChunk c;
    c.request = RequestId(static_cast<int64_t>(r + 1));
    c.first_token = batch.num_tokens();
    c.num_computed = num_computed[r];
    c.num_tokens = static_cast<int>(tokens[r].size()) - num_computed[r];
    c.logits = num_computed[r] == 0 && r == 2 ? LogitsMode::kAll : LogitsMode::kLast;
    for (int b = 0; b < (c.num_computed + c.num_tokens + 15) / 16; ++b)
      c.block_table.push_back(BlockId(static_cast<int>(16 * r) + b));
    batch.token_ids.insert(batch.token_ids.end(), tokens[r].begin() + num_computed[r],
                           tokens[r].end());
    batch.chunks.push_back(std::move(c));
  }
  return batch;
}

TEST_CASE("cuda runner: device sampling matches host sampling of the same logits",
          "[gpu][cuda][runner][sampling]") {
  if (!HaveGpu()) return;
  junction::testing::GoldenCase golden = junction::testing::LoadGoldenCase("llama");
  REQUIRE(golden.prompts.size() == 4);
  // host: ForwardToHost, every id picked here. device, again: ForwardAndSample with requests 0
  // and 1 greedy on the device, 2 on the host (its kAll prefill rows come back packed), 3
  // seeded top-k / top-p on the device.
  auto host = MakeCudaRunner(golden.model_dir);
  auto device = MakeCudaRunner(golden.model_dir);
  auto again = MakeCudaRunner(golden.model_dir);
  REQUIRE(device->SamplesOnDevice());
  const int vocab = host->spec().vocab_size;
  std::vector<RowSampling> rows(4);
  for (int r : {0, 1, 3}) rows[r].on_device = true;
  rows[3].temperature = 0.8f;
  rows[3].top_k = 40;
  rows[3].top_p = 0.9f;
  rows[3].seed = 12345;
  std::vector<std::vector<TokenId>> tokens = golden.prompts;
  std::vector<int> num_computed(4, 0);
  int sampled_differs_from_argmax = 0, greedy_exact = 0, greedy_steps = 0;
  for (int step = 0; step < 20; ++step) {
    INFO("step " << step);
    const StepBatch batch = SamplingStep(tokens, num_computed);
    const int num_rows = batch.NumLogitRows();
    std::vector<RowSampling> step_rows;
    for (int r = 0; r < 4; ++r) {
      RowSampling row = rows[r];
      row.offset = step;
      const int copies =
          batch.chunks[r].logits == LogitsMode::kAll ? batch.chunks[r].num_tokens : 1;
      step_rows.insert(step_rows.end(), copies, row);
    }
    REQUIRE(static_cast<int>(step_rows.size()) == num_rows);
    std::vector<float> all, host_rows{-1.0f}, host_rows_again;
    std::vector<TokenId> ids{7}, ids_again;
    REQUIRE(host->ForwardToHost(batch, all).ok());
    const absl::Status status = device->ForwardAndSample(batch, step_rows, ids, host_rows);
    INFO(status.ToString());
    REQUIRE(status.ok());
    REQUIRE(again->ForwardAndSample(batch, step_rows, ids_again, host_rows_again).ok());
    REQUIRE(all.size() == size_t(num_rows) * vocab);
    REQUIRE(ids.size() == size_t(num_rows));
    CHECK(ids == ids_again);  // same seeds, offsets and logits: the same draws
    CHECK(host_rows == host_rows_again);
    // Request 2's rows (all its prompt rows at step 0, then one) come back as ForwardToHost's.
    const int first_row_2 = 2, num_rows_2 = num_rows - 3;
    REQUIRE(host_rows.size() == size_t(num_rows_2) * vocab);
    std::vector<float> want_2(all.begin() + first_row_2 * vocab,
                              all.begin() + (first_row_2 + num_rows_2) * vocab);
    for (float v : host_rows) REQUIRE(std::isfinite(v));
    CHECK(RelativeL2(host_rows, want_2) <= 1e-6);
    int row = 0;
    for (int r = 0; r < 4; ++r) {
      INFO("request " << r);
      const int last = row + (r == 2 ? num_rows_2 : 1) - 1;
      const float* logits = all.data() + size_t(last) * vocab;
      const int argmax = static_cast<int>(std::max_element(logits, logits + vocab) - logits);
      TokenId next = argmax;
      if (r == 2) {
        CHECK(ids[last] == -1);
      } else {
        next = ids[last];
        REQUIRE(next >= 0);
        REQUIRE(next < vocab);
      }
      if (r == 0 || r == 1) {
        // The same logits up to run-to-run rounding: the device's pick is an argmax of the host's.
        CHECK(logits[next] >= logits[argmax] - 1e-5f * std::abs(logits[argmax]));
        greedy_exact += next == argmax;
        ++greedy_steps;
      }
      if (r == 3) {
        // Within top-k 40 of the temperature-scaled row.
        int better = 0;
        for (int v = 0; v < vocab; ++v) better += logits[v] > logits[next];
        CHECK(better < 40);
        sampled_differs_from_argmax += next != argmax;
      }
      num_computed[r] = static_cast<int>(tokens[r].size());
      tokens[r].push_back(next);
      row = last + 1;
    }
  }
  CHECK(sampled_differs_from_argmax > 0);  // request 3 really sampled
  // Identical kernels on identical batches: expected bit-equal, one near-tie flip tolerated.
  CHECK(greedy_exact >= greedy_steps - 1);
}

// The runner has its attention layers share one flash plan (the whole-model cases above run
// on shared plans); here the contract itself: a follower planned without a fresh leader plan
// fails instead of reading a stale plan, and only layers that plan alike share.
TEST_CASE("cuda attention layers share a plan only when fresh and alike", "[gpu][cuda][runner]") {
  if (!HaveGpu()) return;
  const std::string dir = junction::testing::LoadGoldenCase("llama").model_dir;
  auto spec = LoadModelSpec(dir);
  REQUIRE(spec.ok());
  REQUIRE(spec->layers.size() >= 2);
  auto weights = WeightStore::Open(dir);
  REQUIRE(weights.ok());
  auto cuda = CudaContext::Default();
  REQUIRE(cuda.ok());
  CacheGeometry cache{16, 64, 0};
  std::vector<std::unique_ptr<CudaAttentionLayer>> layers;
  for (int i = 0; i < 3; ++i) {
    const int index = std::min(i, 1);
    LayerContext context{&*spec, index, &*spec->layers[index].mixer, weights->get(), cache};
    auto layer = CudaAttentionLayer::Create(context, *cuda, DType::kBF16,
                                            /*allow_window_policy=*/i == 2);
    INFO(layer.status().ToString());
    REQUIRE(layer.ok());
    layers.push_back(std::move(*layer));
  }
  CudaAttentionLayer &leader = *layers[0], &follower = *layers[1], &windowed = *layers[2];
  CHECK_FALSE(leader.SharePlanOf(leader));
  CHECK_FALSE(windowed.SharePlanOf(leader));  // a window policy plans differently
  REQUIRE(follower.SharePlanOf(leader));
  CHECK_FALSE(windowed.SharePlanOf(follower));  // followers lead nobody
  StepBatch batch;
  ScheduledChunk chunk;
  chunk.num_tokens = 3;
  chunk.block_table = {BlockId(5)};
  batch.chunks.push_back(chunk);
  batch.token_ids = {1, 2, 3};
  const absl::Status stale = follower.Plan(batch);
  CHECK(stale.code() == absl::StatusCode::kFailedPrecondition);
  REQUIRE(leader.Plan(batch).ok());
  CHECK(follower.Plan(batch).ok());
  CHECK(follower.Plan(batch).code() == absl::StatusCode::kFailedPrecondition);
  REQUIRE((*cuda)->SynchronizeStream().ok());
}

TEST_CASE("cuda backend descriptor and rejections", "[cuda]") {
  BackendRegistry registry;
  RegisterCudaBackends(registry);
  const MixerBackend* flash = registry.Find("cuda.flash");
  REQUIRE(flash != nullptr);
  CHECK(flash->descriptor().device_class == DeviceClass::kCuda);
  CHECK(flash->descriptor().min_cuda_sm == 80);
  MixerSpec mixer;
  AttentionSpec spec;
  spec.num_heads = 32;
  spec.num_kv_heads = 8;
  spec.head_dim = 128;
  mixer.params = spec;
  DeviceInfo h100{DeviceClass::kCuda, 90, "H100"};
  DeviceInfo v100{DeviceClass::kCuda, 70, "V100"};
  DeviceInfo cpu{DeviceClass::kCpu, 0, "cpu"};
  CHECK(flash->Rejects(mixer, h100).empty());
  CHECK_FALSE(flash->Rejects(mixer, v100).empty());
  CHECK_FALSE(flash->Rejects(mixer, cpu).empty());
  spec.head_dim = 96;
  mixer.params = spec;
  CHECK_FALSE(flash->Rejects(mixer, h100).empty());
  spec.head_dim = 128;
  spec.sliding_window = 4096;
  mixer.params = spec;
  CHECK_FALSE(flash->Rejects(mixer, h100).empty());
  // Without a device, the query reports it instead of crashing.
  auto device = QueryCudaDevice();
  if (!device.ok()) CHECK(device.status().code() == absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace junction::cuda::testing
