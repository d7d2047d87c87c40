// Sampling in the runner ("on the device") through the engine, over the fake model: which rows
// the engine hands to the runner and which it keeps for the host Sampler, the seeds and offsets
// it passes, the config switch, and the ForwardAndSample contract (host rows packed in order).
#include <catch2/catch.hpp>
#include <future>
#include <map>
#include <numeric>
#include <set>

#include "engine/runtime/engine.h"
#include "tests/support/fake_model_runner.h"

namespace junction::testing {
namespace {

struct DeviceEngine {
  std::unique_ptr<BackendRegistry> registry;
  std::unique_ptr<EngineApi> engine;
  FakeModelRunner* runner = nullptr;  // owned by the engine
};

DeviceEngine MakeDeviceEngine(const FakeModelOptions& model, const EngineConfig& config) {
  DeviceEngine out;
  out.registry = std::make_unique<BackendRegistry>();
  RegisterFakeBackends(*out.registry, model);
  FakeModelRunner** runner = &out.runner;
  auto engine = CreateEngine(MakeFakeSpec(model), config, DeviceInfo{}, *out.registry,
                             [model, runner](const CacheGeometry& geometry) {
                               auto made = std::make_unique<FakeModelRunner>(model, geometry);
                               *runner = made.get();
                               return absl::StatusOr<std::unique_ptr<ModelRunner>>(std::move(made));
                             });
  INFO(engine.status().ToString());
  REQUIRE(engine.ok());
  REQUIRE(out.runner != nullptr);
  out.engine = std::move(*engine);
  return out;
}

struct Collected {
  std::vector<TokenId> ids;
  int num_logprobs = 0;
  GenerationDelta last;
};

Collected Collect(RequestStream& stream) {
  Collected out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (auto delta = stream.Next(deadline)) {
    out.ids.insert(out.ids.end(), delta->token_ids.begin(), delta->token_ids.end());
    out.num_logprobs += static_cast<int>(delta->logprobs.size());
    out.last = *delta;
    if (delta->finish != FinishReason::kNone) break;
  }
  return out;
}

std::vector<TokenId> Tokens(int n, int seed) {
  std::vector<TokenId> out;
  for (int i = 0; i < n; ++i) out.push_back((seed * 13 + i * 7) % 64);
  return out;
}

bool DeviceEligible(const SamplingParams& s) {
  return s.repetition_penalty == 1.0f && s.presence_penalty == 0.0f &&
         s.frequency_penalty == 0.0f && s.logprobs == 0;
}

// Request i of a mixed set: greedy and seeded filters (device), penalties and logprobs (host).
GenerateRequest MixedRequest(int i) {
  GenerateRequest r;
  r.prompt = Tokens(3 + i * 2, i);
  SamplingParams& s = r.sampling;
  s.max_tokens = 4 + i % 6;
  s.ignore_eos = true;
  s.seed = 1000 + i;
  s.temperature = i % 3 == 0 ? 0.0f : 0.6f + 0.3f * (i % 4);
  s.top_k = i % 4 == 1 ? 5 : (i % 4 == 2 ? -1 : 0);
  s.top_p = i % 5 == 3 ? 0.8f : 1.0f;
  s.min_p = i % 7 == 4 ? 0.1f : 0.0f;
  switch (i % 6) {
    case 1:
      s.repetition_penalty = 1.3f;
      break;
    case 4:
      s.presence_penalty = 0.5f;
      break;
    case 5:
      if (i % 4 == 1)
        s.frequency_penalty = 0.7f;
      else
        s.logprobs = 2;
      break;
    default:
      break;
  }
  return r;
}

TEST_CASE("engine: device sampling takes plain rows, the host Sampler the others") {
  FakeModelOptions model;
  model.recurrent_layer = true;
  model.device_sampling = true;
  EngineConfig config;
  config.device_sampling = true;
  config.block_size = 4;
  config.kv_memory_bytes = 24 * 4 * 64 + 1024;  // a few blocks: preemption happens
  config.max_batched_tokens = 16;
  config.max_num_seqs = 8;
  // The first step waits until all 18 requests are queued: on a loaded machine the engine could
  // otherwise finish each request before the next arrives (no mixed steps, no preemption).
  std::promise<void> go;
  model.start = go.get_future().share();
  DeviceEngine fake = MakeDeviceEngine(model, config);
  struct OpenOnExit {  // a failed REQUIRE must not leave the engine waiting at its destruction
    std::promise<void>* go;
    ~OpenOnExit() {
      if (go != nullptr) go->set_value();
    }
  } open_on_exit{&go};
  std::vector<GenerateRequest> requests;
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (int i = 0; i < 18; ++i) {
    requests.push_back(MixedRequest(i));
    auto stream = fake.engine->Submit(requests.back());
    INFO(stream.status().ToString());
    REQUIRE(stream.ok());
    streams.push_back(*stream);
  }
  open_on_exit.go = nullptr;
  go.set_value();
  std::map<int64_t, int> index_of;  // request id -> index
  int num_device_requests = 0, num_host_requests = 0;
  for (size_t i = 0; i < streams.size(); ++i) {
    INFO("request " << i);
    index_of[streams[i]->id().value] = static_cast<int>(i);
    const SamplingParams& s = requests[i].sampling;
    const Collected got = Collect(*streams[i]);
    CHECK(got.last.finish == FinishReason::kLength);
    if (DeviceEligible(s)) {
      ++num_device_requests;
      CHECK(got.ids == FakeDeviceReferenceIds(model, requests[i].prompt, s, *s.seed, {}));
    } else {
      ++num_host_requests;
      CHECK(got.ids == FakeReferenceIds(model, requests[i].prompt, s, {}));
    }
    CHECK(got.num_logprobs == (s.logprobs > 0 ? s.max_tokens : 0));
  }
  REQUIRE(num_device_requests >= 6);
  REQUIRE(num_host_requests >= 6);
  fake.engine->Drain();

  // Every row the runner saw: on the device exactly when eligible, the request's seed and
  // filters, offsets 0, 1, 2, ... per request; host rows carry nothing to sample with.
  std::map<int, std::vector<uint64_t>> offsets;
  int mixed_steps = 0, host_rows = 0;
  for (const std::vector<FakeSampledRow>& step : fake.runner->sampled_steps()) {
    std::set<bool> sides;
    for (const FakeSampledRow& row : step) {
      const int i = index_of.at(row.request.value);
      const SamplingParams& s = requests[i].sampling;
      INFO("request " << i);
      sides.insert(row.sampling.on_device);
      REQUIRE(row.sampling.on_device == DeviceEligible(s));
      if (!row.sampling.on_device) {
        ++host_rows;
        continue;
      }
      CHECK(row.sampling.seed == *s.seed);
      CHECK(row.sampling.temperature == s.temperature);
      CHECK(row.sampling.top_k == std::max(s.top_k, 0));
      CHECK(row.sampling.top_p == s.top_p);
      CHECK(row.sampling.min_p == s.min_p);
      offsets[i].push_back(row.sampling.offset);
    }
    mixed_steps += sides.size() == 2;
  }
  CHECK(mixed_steps > 0);
  CHECK(host_rows > 0);
  CHECK(static_cast<int>(offsets.size()) == num_device_requests);
  for (const auto& [i, seen] : offsets) {
    INFO("request " << i);
    std::vector<uint64_t> want(requests[i].sampling.max_tokens);
    std::iota(want.begin(), want.end(), uint64_t{0});
    CHECK(seen == want);
  }
  INFO("blocks " << fake.engine->Stats().kv_blocks_total);
  CHECK(fake.engine->Stats().preemptions_total > 0);
}

TEST_CASE("engine: an unseeded request samples with one seed drawn at admission") {
  FakeModelOptions model;
  model.device_sampling = true;
  EngineConfig config;
  config.device_sampling = true;
  DeviceEngine fake = MakeDeviceEngine(model, config);
  std::vector<GenerateRequest> requests(2);
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (GenerateRequest& r : requests) {
    r.prompt = {5, 6, 7};
    r.sampling.temperature = 1.0f;
    r.sampling.max_tokens = 12;
    r.sampling.ignore_eos = true;
    auto stream = fake.engine->Submit(r);
    REQUIRE(stream.ok());
    streams.push_back(*stream);
  }
  std::vector<Collected> got;
  for (auto& stream : streams) got.push_back(Collect(*stream));
  fake.engine->Drain();
  std::map<int64_t, std::set<uint64_t>> seeds;
  for (const auto& step : fake.runner->sampled_steps())
    for (const FakeSampledRow& row : step) {
      REQUIRE(row.sampling.on_device);
      seeds[row.request.value].insert(row.sampling.seed);
    }
  REQUIRE(seeds.size() == 2);
  const uint64_t seed0 = *seeds[streams[0]->id().value].begin();
  const uint64_t seed1 = *seeds[streams[1]->id().value].begin();
  CHECK(seeds[streams[0]->id().value].size() == 1);
  CHECK(seeds[streams[1]->id().value].size() == 1);
  CHECK(seed0 != seed1);  // two 64-bit draws
  CHECK(got[0].ids ==
        FakeDeviceReferenceIds(model, requests[0].prompt, requests[0].sampling, seed0, {}));
  CHECK(got[1].ids ==
        FakeDeviceReferenceIds(model, requests[1].prompt, requests[1].sampling, seed1, {}));
}

TEST_CASE("engine: device sampling is on by default; off, every row goes to the host Sampler") {
  EngineConfig defaults;
  CHECK(defaults.device_sampling);  // on by default: see engine.h
  CHECK(defaults.cuda_graphs);
  std::vector<std::string> problems;
  std::vector<std::string> args = {"x", "--no-device-sampling", "--no-cuda-graphs",
                                   "--no-cuda-graphs=1"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  EngineConfig flags;
  for (int index = 1; index < 4; ++index)
    REQUIRE(ParseEngineFlag(4, argv.data(), &index, flags, problems));
  CHECK(!flags.device_sampling);
  CHECK(!flags.cuda_graphs);
  REQUIRE(problems.size() == 1);  // an inline value is refused, as for --no-prefix-cache
  CHECK(problems[0].find("--no-cuda-graphs") != std::string::npos);
  std::vector<std::string> on = {"x", "--device-sampling", "--cuda-graphs"};
  std::vector<char*> on_argv;
  for (std::string& a : on) on_argv.push_back(a.data());
  for (int index = 1; index < 3; ++index)
    REQUIRE(ParseEngineFlag(3, on_argv.data(), &index, flags, problems));
  CHECK(flags.device_sampling);
  CHECK(flags.cuda_graphs);

  EngineConfig config;
  config.device_sampling = false;

  FakeModelOptions model;
  model.device_sampling = true;
  DeviceEngine fake = MakeDeviceEngine(model, config);
  int differs = 0;
  for (int i = 0; i < 6; ++i) {
    GenerateRequest r;
    r.prompt = Tokens(4 + i, i);
    r.sampling.temperature = 1.0f;
    r.sampling.seed = 77 + i;
    r.sampling.max_tokens = 10;
    r.sampling.ignore_eos = true;
    auto stream = fake.engine->Submit(r);
    REQUIRE(stream.ok());
    const std::vector<TokenId> ids = Collect(**stream).ids;
    CHECK(ids == FakeReferenceIds(model, r.prompt, r.sampling, {}));
    differs += ids != FakeDeviceReferenceIds(model, r.prompt, r.sampling, 77 + i, {});
  }
  fake.engine->Drain();
  CHECK(fake.runner->sampled_steps().empty());
  CHECK(differs > 0);  // the two samplers are told apart: this test could see a device row
}

// Chunks of a hand-made prefill step over fresh caches: request r has `lengths[r]` tokens.
StepBatch PrefillBatch(const std::vector<int>& lengths, const std::vector<LogitsMode>& modes) {
  StepBatch batch;
  int block = 0;
  for (size_t r = 0; r < lengths.size(); ++r) {
    ScheduledChunk c;
    c.request = RequestId(static_cast<int64_t>(r + 1));
    c.first_token = batch.num_tokens();
    c.num_tokens = lengths[r];
    c.logits = modes[r];
    for (int b = 0; b < (lengths[r] + 3) / 4; ++b) c.block_table.push_back(BlockId(block++));
    for (int t = 0; t < lengths[r]; ++t) batch.token_ids.push_back((r * 11 + t * 3) % 64);
    batch.chunks.push_back(std::move(c));
  }
  return batch;
}

TEST_CASE("fake runner: ForwardAndSample packs the host rows in row order") {
  FakeModelOptions model;
  model.device_sampling = true;
  const CacheGeometry cache{4, 32, 0};
  const StepBatch batch = PrefillBatch(
      {5, 3, 6, 2}, {LogitsMode::kLast, LogitsMode::kAll, LogitsMode::kNone, LogitsMode::kLast});
  const int num_rows = batch.NumLogitRows();
  REQUIRE(num_rows == 5);
  std::vector<float> all;
  FakeModelRunner host(model, cache);
  REQUIRE(host.ForwardToHost(batch, all).ok());
  const int vocab = host.spec().vocab_size;

  std::vector<RowSampling> rows(num_rows);
  for (int i : {0, 2, 4}) {  // the kAll chunk's middle row goes to the device too
    rows[i].on_device = true;
    rows[i].temperature = i == 2 ? 0.0f : 0.9f;
    rows[i].seed = 3;
    rows[i].offset = i;
  }
  FakeModelRunner device(model, cache);
  std::vector<TokenId> ids = {9, 9};
  std::vector<float> host_logits = {1.0f};
  REQUIRE(device.ForwardAndSample(batch, rows, ids, host_logits).ok());
  REQUIRE(ids.size() == rows.size());
  REQUIRE(host_logits.size() == size_t(2) * vocab);
  std::vector<float> want;
  for (int i : {1, 3})
    want.insert(want.end(), all.begin() + i * vocab, all.begin() + (i + 1) * vocab);
  CHECK(host_logits == want);
  for (int i = 0; i < num_rows; ++i) {
    INFO("row " << i);
    if (!rows[i].on_device) {
      CHECK(ids[i] == -1);
      continue;
    }
    CHECK(ids[i] == FakeDeviceSample({all.data() + i * vocab, size_t(vocab)}, rows[i]));
  }

  FakeModelRunner again(model, cache);
  rows.pop_back();
  CHECK(again.ForwardAndSample(batch, rows, ids, host_logits).code() ==
        absl::StatusCode::kInvalidArgument);
  model.device_sampling = false;
  FakeModelRunner plain(model, cache);
  CHECK(!plain.SamplesOnDevice());
  rows.resize(num_rows);
  const absl::Status unimplemented = plain.ForwardAndSample(batch, rows, ids, host_logits);
  CHECK(unimplemented.code() == absl::StatusCode::kUnimplemented);
  CHECK(unimplemented.message().find("fake") != std::string::npos);
}

}  // namespace
}  // namespace junction::testing
