#include "server/http/openai_request.h"

#include <catch2/catch.hpp>

#include "tests/server/fake_engine.h"

namespace junction::server {
namespace {

struct Case {
  std::string body;
  int status;
  std::string param;
};

}  // namespace

TEST_CASE("completion bodies are validated as OpenAI does", "[server]") {
  testing::FakeEngine* engine = nullptr;
  std::unique_ptr<ServedModel> model = testing::MakeFakeModel(&engine);
  REQUIRE(model != nullptr);
  const Case cases[] = {
      {R"({"model": "fake-model", "prompt": "hi")", 400, ""},
      {R"([1, 2])", 400, ""},
      {"{\"model\": \"fake-model\", \"prompt\": \"\xff\"}", 400, ""},
      {R"({"prompt": "hi"})", 400, "model"},
      {R"({"model": 7, "prompt": "hi"})", 400, "model"},
      {R"({"model": "other", "prompt": "hi"})", 404, "model"},
      {R"({"model": "fake-model"})", 400, "prompt"},
      {R"({"model": "fake-model", "prompt": ""})", 400, "prompt"},
      {R"({"model": "fake-model", "prompt": []})", 400, "prompt"},
      {R"({"model": "fake-model", "prompt": [1, 999]})", 400, "prompt"},
      {R"({"model": "fake-model", "prompt": {"a": 1}})", 400, "prompt"},
      {R"({"model": "fake-model", "prompt": "hi", "temperature": "hot"})", 400, "temperature"},
      {R"({"model": "fake-model", "prompt": "hi", "temperature": 2.5})", 400, "temperature"},
      // A number beyond a double does not parse: malformed JSON, no param.
      {R"({"model": "fake-model", "prompt": "hi", "temperature": 1e999})", 400, ""},
      {R"({"model": "fake-model", "prompt": "hi", "top_p": 0})", 400, "top_p"},
      {R"({"model": "fake-model", "prompt": "hi", "top_k": -2})", 400, "top_k"},
      {R"({"model": "fake-model", "prompt": "hi", "min_p": 1.5})", 400, "min_p"},
      {R"({"model": "fake-model", "prompt": "hi", "n": 0})", 400, "n"},
      {R"({"model": "fake-model", "prompt": "hi", "n": 1.5})", 400, "n"},
      {R"({"model": "fake-model", "prompt": "hi", "max_tokens": 0})", 400, "max_tokens"},
      {R"({"model": "fake-model", "prompt": "hi", "max_tokens": 63})", 400, "max_tokens"},
      {R"({"model": "fake-model", "prompt": "hi", "stop": ["a", "b", "c", "d", "e"]})", 400,
       "stop"},
      {R"({"model": "fake-model", "prompt": "hi", "stop": [""]})", 400, "stop"},
      {R"({"model": "fake-model", "prompt": "hi", "presence_penalty": -3})", 400,
       "presence_penalty"},
      {R"({"model": "fake-model", "prompt": "hi", "stream": "yes"})", 400, "stream"},
      {R"({"model": "fake-model", "prompt": "hi", "stream_options": {"include_usage": true}})", 400,
       "stream_options"},
      {R"({"model": "fake-model", "prompt": "hi", "logprobs": 21})", 400, "logprobs"},
      {R"({"model": "fake-model", "prompt": "hi", "seed": "x"})", 400, "seed"},
  };
  for (const Case& c : cases) {
    INFO(c.body);
    CompletionRequest request;
    std::optional<ApiError> error = ParseCompletionRequest(c.body, *model, false, request);
    REQUIRE(error.has_value());
    CHECK(error->http_status() == c.status);
    CHECK(error->param == c.param);
    CHECK(error->Body().find("\"error\"") != std::string::npos);
  }
}

TEST_CASE("a valid completion body becomes engine requests", "[server]") {
  testing::FakeEngine* engine = nullptr;
  std::unique_ptr<ServedModel> model = testing::MakeFakeModel(&engine);
  REQUIRE(model != nullptr);
  CompletionRequest request;
  auto error = ParseCompletionRequest(
      R"({"model": "fake-model", "prompt": ["ab", [5, 6, 7]], "max_tokens": 8,
          "temperature": 0, "top_k": 3, "stop": "x", "n": 2, "seed": 9, "logprobs": 2,
          "stream": true, "stream_options": {"include_usage": true}, "ignore_eos": true})",
      *model, false, request);
  REQUIRE_FALSE(error.has_value());
  REQUIRE(request.prompts.size() == 2);
  CHECK(request.prompts[0] == std::vector<TokenId>{'a', 'b'});
  CHECK(request.prompts[1] == std::vector<TokenId>{5, 6, 7});
  CHECK(request.sampling.max_tokens == 8);
  CHECK(request.sampling.temperature == 0);
  CHECK(request.sampling.top_k == 3);
  CHECK(request.sampling.stop == std::vector<std::string>{"x"});
  CHECK(request.sampling.seed == 9u);
  CHECK(request.sampling.ignore_eos);
  CHECK(request.sampling.logprobs == 2);
  CHECK(request.n == 2);
  CHECK(request.stream);
  CHECK(request.include_usage);
}

TEST_CASE("chat bodies go through the chat template", "[server]") {
  testing::FakeEngine* engine = nullptr;
  std::unique_ptr<ServedModel> model = testing::MakeFakeModel(&engine);
  REQUIRE(model != nullptr);
  CompletionRequest request;
  auto error = ParseCompletionRequest(
      R"({"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]})", *model, true,
      request);
  REQUIRE_FALSE(error.has_value());
  REQUIRE(request.prompts.size() == 1);
  const std::string text(request.prompts[0].begin(), request.prompts[0].end());
  CHECK(text == "user: hi\nassistant: ");
  // No max_tokens: whatever the context leaves.
  CHECK(request.sampling.max_tokens == 64 - static_cast<int>(text.size()));

  CompletionRequest bad;
  auto role = ParseCompletionRequest(
      R"({"model": "fake-model", "messages": [{"role": "wizard", "content": "hi"}]})", *model, true,
      bad);
  REQUIRE(role.has_value());
  CHECK(role->param == "messages.role");
  auto empty =
      ParseCompletionRequest(R"({"model": "fake-model", "messages": []})", *model, true, bad);
  REQUIRE(empty.has_value());
  CHECK(empty->param == "messages");
}

}  // namespace junction::server
