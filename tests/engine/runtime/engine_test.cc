// The engine loop over the fake model: concurrent streams, sampling, stop conditions,
// cancellation, the waiting-queue bound, draining, shutdown, stats, and the router's refusals.
#include "engine/runtime/engine.h"

#include <catch2/catch.hpp>
#include <thread>

#include "tests/support/fake_model_runner.h"

namespace junction::testing {
namespace {

struct FakeEngine {
  std::unique_ptr<BackendRegistry> registry;
  std::unique_ptr<EngineApi> engine;
};

FakeEngine MakeFakeEngine(const FakeModelOptions& model, EngineConfig config) {
  FakeEngine out;
  out.registry = std::make_unique<BackendRegistry>();
  RegisterFakeBackends(*out.registry, model);
  DeviceInfo device;
  auto engine = CreateEngine(MakeFakeSpec(model), config, device, *out.registry,
                             [model](const CacheGeometry& geometry) {
                               return absl::StatusOr<std::unique_ptr<ModelRunner>>(
                                   std::make_unique<FakeModelRunner>(model, geometry));
                             });
  INFO(engine.status().ToString());
  REQUIRE(engine.ok());
  out.engine = std::move(*engine);
  return out;
}

GenerateRequest Request(std::vector<TokenId> prompt, int max_tokens, float temperature = 0) {
  GenerateRequest r;
  r.prompt = std::move(prompt);
  r.sampling.max_tokens = max_tokens;
  r.sampling.temperature = temperature;
  r.sampling.seed = 7;
  r.sampling.ignore_eos = true;
  return r;
}

struct Collected {
  std::vector<TokenId> ids;
  GenerationDelta last;
};

Collected Collect(RequestStream& stream) {
  Collected out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (auto delta = stream.Next(deadline)) {
    out.ids.insert(out.ids.end(), delta->token_ids.begin(), delta->token_ids.end());
    out.last = *delta;
    if (delta->finish != FinishReason::kNone) break;
  }
  return out;
}

std::vector<TokenId> Tokens(int n, int seed) {
  std::vector<TokenId> out;
  for (int i = 0; i < n; ++i) out.push_back((seed * 17 + i * 5) % 64);
  return out;
}

TEST_CASE("engine: concurrent requests generate what they generate alone") {
  FakeModelOptions model;
  model.recurrent_layer = true;
  EngineConfig config;
  config.block_size = 4;
  config.kv_memory_bytes = 24 * 4 * 64 + 8 * 1024;  // a handful of blocks: preemption happens
  config.max_batched_tokens = 16;
  config.max_num_seqs = 8;
  FakeEngine fake = MakeFakeEngine(model, config);
  std::vector<std::shared_ptr<RequestStream>> streams;
  std::vector<GenerateRequest> requests;
  for (int i = 0; i < 12; ++i) {
    requests.push_back(Request(Tokens(3 + i * 3, i), 4 + i % 5, i % 2 ? 1.0f : 0.0f));
    requests.back().priority = i % 3;
    auto stream = fake.engine->Submit(requests.back());
    INFO(stream.status().ToString());
    REQUIRE(stream.ok());
    streams.push_back(*stream);
  }
  for (size_t i = 0; i < streams.size(); ++i) {
    INFO("request " << i);
    const Collected got = Collect(*streams[i]);
    CHECK(got.last.finish == FinishReason::kLength);
    CHECK(got.ids == FakeReferenceIds(model, requests[i].prompt, requests[i].sampling, {}));
    CHECK(got.last.usage.prompt_tokens == static_cast<int>(requests[i].prompt.size()));
    CHECK(got.last.usage.completion_tokens == requests[i].sampling.max_tokens);
    CHECK(streams[i]->plan().attention_policy == "full");
    CHECK(!streams[i]->Next().has_value());  // after the final delta: nullopt at once
  }
  fake.engine->Drain();
  const EngineStats stats = fake.engine->Stats();
  CHECK(stats.running_requests == 0);
  CHECK(stats.kv_blocks_used == 0);
  CHECK(stats.state_slots_used == 0);
  CHECK(stats.generated_tokens_total > 0);
  CHECK(stats.prompt_tokens_total > 0);
  CHECK(!stats.requests_by_backend.empty());
}

TEST_CASE("engine: the plan names the bound backends and why the others lost") {
  FakeModelOptions model;
  model.recurrent_layer = true;
  FakeEngine fake = MakeFakeEngine(model, EngineConfig{});
  auto stream = fake.engine->Submit(Request({1, 2, 3}, 2));
  REQUIRE(stream.ok());
  const RequestPlan& plan = (*stream)->plan();
  REQUIRE(plan.layers.size() == 2);
  CHECK(plan.layers[0].kind == "attention");
  CHECK(plan.layers[0].backend == "fake.attention");
  REQUIRE(plan.layers[0].rejected.size() == 1);
  CHECK(plan.layers[0].rejected[0] == "fake.other_attention: always busy");
  CHECK(plan.layers[1].backend == "fake.recurrent");
  CHECK(plan.policy_reason.find("fits the model context") != std::string::npos);
  CHECK(Collect(**stream).ids.size() == 2);
}

TEST_CASE("engine: stop ids, eos and max_tokens end a request") {
  FakeModelOptions model;
  GenerateRequest probe = Request(Tokens(5, 1), 8);
  const std::vector<TokenId> free_run = FakeReferenceIds(model, probe.prompt, probe.sampling, {});
  model.eos_token_ids = {free_run[2]};
  FakeEngine fake = MakeFakeEngine(model, EngineConfig{});
  GenerateRequest eos = probe;
  eos.sampling.ignore_eos = false;
  Collected got = Collect(**fake.engine->Submit(eos));
  CHECK(got.last.finish == FinishReason::kStop);
  CHECK(got.ids == std::vector<TokenId>(free_run.begin(), free_run.begin() + 3));
  GenerateRequest stop = probe;
  stop.sampling.stop_token_ids = {free_run[1]};
  got = Collect(**fake.engine->Submit(stop));
  CHECK(got.last.finish == FinishReason::kStop);
  CHECK(got.ids.size() == 2);
  got = Collect(**fake.engine->Submit(probe));  // ignore_eos
  CHECK(got.last.finish == FinishReason::kLength);
  CHECK(got.ids == free_run);
}

TEST_CASE("engine: cancellation ends the stream and frees the memory") {
  FakeModelOptions model;
  model.recurrent_layer = true;
  FakeEngine fake = MakeFakeEngine(model, EngineConfig{});
  auto stream = fake.engine->Submit(Request(Tokens(10, 2), 3000));
  REQUIRE(stream.ok());
  REQUIRE((*stream)->Next().has_value());
  fake.engine->Cancel((*stream)->id());
  fake.engine->Cancel(RequestId(12345));  // unknown ids are ignored
  const Collected got = Collect(**stream);
  CHECK(got.last.finish == FinishReason::kCancelled);
  fake.engine->Drain();
  CHECK(fake.engine->Stats().kv_blocks_used == 0);
  CHECK(fake.engine->Stats().state_slots_used == 0);
}

TEST_CASE("engine: the waiting queue is bounded") {
  FakeModelOptions model;
  EngineConfig config;
  config.max_num_seqs = 1;
  config.max_waiting = 2;
  FakeEngine fake = MakeFakeEngine(model, config);
  auto running = fake.engine->Submit(Request({1, 2}, 3000));
  REQUIRE(running.ok());
  REQUIRE((*running)->Next().has_value());  // it runs; the next two wait
  for (TokenId first : {3, 4}) {
    auto waiting = fake.engine->Submit(Request({first}, 2));
    INFO(waiting.status().ToString());
    REQUIRE(waiting.ok());
  }
  auto refused = fake.engine->Submit(Request({5}, 2));
  CHECK(absl::IsResourceExhausted(refused.status()));
  fake.engine->Cancel((*running)->id());
  fake.engine->Drain();
  CHECK(absl::IsUnavailable(fake.engine->Submit(Request({5}, 2)).status()));
}

TEST_CASE("engine: bad requests are refused at submission with the reason") {
  FakeModelOptions model;
  model.max_context = 64;
  model.window_policy = false;
  EngineConfig config;
  config.kv_memory_bytes = 64 * 1024;
  FakeEngine fake = MakeFakeEngine(model, config);
  EngineApi& engine = *fake.engine;
  CHECK(absl::IsInvalidArgument(engine.Submit(Request({}, 2)).status()));
  CHECK(absl::IsInvalidArgument(engine.Submit(Request({1, 64}, 2)).status()));
  GenerateRequest bad_sampling = Request({1}, 2);
  bad_sampling.sampling.top_p = 0;
  CHECK(absl::IsInvalidArgument(engine.Submit(bad_sampling).status()));
  GenerateRequest policy = Request({1}, 2);
  policy.attention_policy = "sometimes";
  CHECK(absl::IsInvalidArgument(engine.Submit(policy).status()));
  // Too long for the context: auto falls back to the window policy, which fake.attention lacks.
  auto too_long = engine.Submit(Request(Tokens(50, 3), 20));
  CHECK(absl::IsInvalidArgument(too_long.status()));
  CHECK(too_long.status().message().find("fake.attention") != std::string::npos);
  GenerateRequest full = Request(Tokens(50, 3), 20);
  full.attention_policy = "full";
  auto full_status = engine.Submit(full).status();
  CHECK(absl::IsInvalidArgument(full_status));
  CHECK(full_status.message().find("exceeds the model context") != std::string::npos);
  GenerateRequest pinned = Request({1}, 2);
  pinned.attention_backend = "fake.other_attention";
  auto pinned_status = engine.Submit(pinned).status();
  CHECK(absl::IsInvalidArgument(pinned_status));
  CHECK(pinned_status.message().find("always busy") != std::string::npos);
}

TEST_CASE("engine: requests beyond the context run with sinks + window") {
  FakeModelOptions model;
  model.max_context = 64;
  EngineConfig config;
  config.block_size = 4;
  config.max_batched_tokens = 16;
  config.kv_memory_bytes = 40 * 4 * 64;  // 40 blocks: 160 tokens for everything
  FakeEngine fake = MakeFakeEngine(model, config);
  GenerateRequest long_request = Request(Tokens(50, 4), 120);
  auto stream = fake.engine->Submit(long_request);
  INFO(stream.status().ToString());
  REQUIRE(stream.ok());
  const RequestPlan& plan = (*stream)->plan();
  CHECK(plan.attention_policy == "window");
  CHECK(plan.policy.window == 60);
  CHECK(plan.policy.num_sinks == 4);
  CHECK(plan.policy_reason.find("exceeds the model context") != std::string::npos);
  const Collected got = Collect(**stream);
  CHECK(got.ids ==
        FakeReferenceIds(model, long_request.prompt, long_request.sampling, plan.policy));
  // A request that cannot fit even the window is refused.
  EngineConfig tiny = config;
  tiny.kv_memory_bytes = 8 * 4 * 64;
  FakeEngine small = MakeFakeEngine(model, tiny);
  CHECK(absl::IsResourceExhausted(small.engine->Submit(long_request).status()));
}

TEST_CASE("engine: destruction ends unfinished streams") {
  FakeModelOptions model;
  std::shared_ptr<RequestStream> stream;
  {
    FakeEngine fake = MakeFakeEngine(model, EngineConfig{});
    stream = *fake.engine->Submit(Request({1, 2, 3}, 3000));
    REQUIRE(stream->Next().has_value());
  }
  const Collected got = Collect(*stream);
  CHECK(got.last.finish == FinishReason::kError);
  CHECK(absl::IsUnavailable(got.last.error));
}

}  // namespace
}  // namespace junction::testing
