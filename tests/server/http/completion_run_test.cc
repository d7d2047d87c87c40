#include "server/http/completion_run.h"

#include <catch2/catch.hpp>

#include "tests/server/fake_engine.h"

namespace junction::server {
namespace {

std::vector<TokenId> Bytes(const std::string& s) { return {s.begin(), s.end()}; }

std::string StreamAll(CompletionRun& run) {
  std::string out;
  for (int i = 0; i < 1000 && run.NextSseEvents(std::chrono::milliseconds(10), out); ++i) {
  }
  return out;
}

CompletionRequest Request(const std::string& body, const ServedModel& model, bool chat) {
  CompletionRequest request;
  auto error = ParseCompletionRequest(body, model, chat, request);
  if (error) FAIL(error->Body());
  return request;
}

}  // namespace

TEST_CASE("a non-streaming completion collects text, finish reason and usage", "[server]") {
  testing::FakeEngine* engine = nullptr;
  std::unique_ptr<ServedModel> model = testing::MakeFakeModel(&engine);
  REQUIRE(model != nullptr);
  engine->script = Bytes("hello world");
  ServingState state("");
  auto run = CompletionRun::Start(
      state, *model,
      Request(R"({"model": "fake-model", "prompt": "ab", "max_tokens": 5})", *model, false));
  REQUIRE(run.ok());
  CHECK(state.in_flight().load() == 1);
  absl::StatusOr<nlohmann::json> response = (*run)->Collect();
  REQUIRE(response.ok());
  CHECK((*response)["object"] == "text_completion");
  CHECK((*response)["choices"][0]["text"] == "hello");
  CHECK((*response)["choices"][0]["finish_reason"] == "length");
  CHECK((*response)["usage"]["prompt_tokens"] == 2);
  CHECK((*response)["usage"]["completion_tokens"] == 5);
  CHECK((*response)["usage"]["total_tokens"] == 7);
  run->reset();
  CHECK(state.in_flight().load() == 0);
}

TEST_CASE("a stop string ends the choice and cancels the engine request", "[server]") {
  testing::FakeEngine* engine = nullptr;
  std::unique_ptr<ServedModel> model = testing::MakeFakeModel(&engine);
  REQUIRE(model != nullptr);
  engine->script = Bytes("hello world, more text");
  ServingState state("");
  auto run = CompletionRun::Start(
      state, *model,
      Request(R"({"model": "fake-model", "prompt": "ab", "max_tokens": 20, "stop": " wor"})",
              *model, false));
  REQUIRE(run.ok());
  absl::StatusOr<nlohmann::json> response = (*run)->Collect();
  REQUIRE(response.ok());
  CHECK((*response)["choices"][0]["text"] == "hello");
  CHECK((*response)["choices"][0]["finish_reason"] == "stop");
  CHECK(engine->num_cancelled() == 1);
}

TEST_CASE("SSE streams are framed as OpenAI's, ending in [DONE]", "[server]") {
  testing::FakeEngine* engine = nullptr;
  std::unique_ptr<ServedModel> model = testing::MakeFakeModel(&engine);
  REQUIRE(model != nullptr);
  engine->script = Bytes("hey");
  ServingState state("");
  auto run = CompletionRun::Start(
      state, *model,
      Request(R"({"model": "fake-model", "messages": [{"role": "user", "content": "x"}],
                  "max_tokens": 3, "stream": true, "stream_options": {"include_usage": true}})",
              *model, true));
  REQUIRE(run.ok());
  const std::string out = StreamAll(**run);
  std::vector<nlohmann::json> events;
  size_t pos = 0;
  while (pos < out.size()) {
    REQUIRE(out.compare(pos, 6, "data: ") == 0);
    const size_t end = out.find("\n\n", pos);
    REQUIRE(end != std::string::npos);
    const std::string payload = out.substr(pos + 6, end - pos - 6);
    pos = end + 2;
    if (payload == "[DONE]") {
      CHECK(pos == out.size());
      break;
    }
    events.push_back(nlohmann::json::parse(payload));
  }
  REQUIRE(events.size() >= 3);
  CHECK(events.front()["choices"][0]["delta"]["role"] == "assistant");
  std::string text;
  for (const auto& e : events) {
    CHECK(e["object"] == "chat.completion.chunk");
    if (!e["choices"].empty() && e["choices"][0]["delta"].contains("content")) {
      text += e["choices"][0]["delta"]["content"].get<std::string>();
    }
  }
  CHECK(text == "hey");
  const nlohmann::json& last_choice = events[events.size() - 2];
  CHECK(last_choice["choices"][0]["finish_reason"] == "length");
  CHECK(events.back()["choices"].empty());
  CHECK(events.back()["usage"]["completion_tokens"] == 3);
}

TEST_CASE("n choices are submitted separately and a cancelled run frees them", "[server]") {
  testing::FakeEngine* engine = nullptr;
  std::unique_ptr<ServedModel> model = testing::MakeFakeModel(&engine);
  REQUIRE(model != nullptr);
  engine->script = Bytes("abcdef");
  ServingState state("");
  auto run = CompletionRun::Start(
      state, *model,
      Request(R"({"model": "fake-model", "prompt": "x", "n": 3, "seed": 5, "stream": true})",
              *model, false));
  REQUIRE(run.ok());
  const auto submitted = engine->submitted();
  REQUIRE(submitted.size() == 3);
  CHECK(submitted[0].sampling.seed != submitted[1].sampling.seed);
  (*run)->Cancel();
  CHECK(engine->num_cancelled() == 3);
}

TEST_CASE("a full queue is ResourceExhausted and nothing stays in flight", "[server]") {
  testing::FakeEngine* engine = nullptr;
  std::unique_ptr<ServedModel> model = testing::MakeFakeModel(&engine);
  REQUIRE(model != nullptr);
  engine->submit_error = absl::ResourceExhaustedError("the waiting queue is full");
  ServingState state("");
  auto run = CompletionRun::Start(
      state, *model, Request(R"({"model": "fake-model", "prompt": "x"})", *model, false));
  REQUIRE_FALSE(run.ok());
  CHECK(absl::IsResourceExhausted(run.status()));
  CHECK(state.in_flight().load() == 0);
}

}  // namespace junction::server
