// OpenAI HTTP bodies -> engine requests (server/http/openai_request.h): ParseCompletionRequest
// for /v1/completions and /v1/chat/completions with the e2e fixture's tokenizer (byte-level,
// with a chat template), vocab 256 and a 64-token context, as the server unit tests use.
// Byte 0 picks the endpoint; the rest is the body. An accepted request must be one the engine
// can run: prompts non-empty with ids in the vocabulary, and prompt + max_tokens within the
// context. A rejected one must carry an HTTP error status.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "fuzz/fuzz_data.h"
#include "server/http/openai_request.h"
#include "backends/loader/served_model.h"

namespace junction::fuzz {
namespace internal {

inline const junction::ServedModel& Model() {
  static const junction::ServedModel* model = [] {
    auto* served = new junction::ServedModel();
    served->id = "fuzz-model";
    served->architecture = "LlamaForCausalLM";
    served->spec.vocab_size = 256;
    served->spec.max_context = 64;
    served->tokenizer =
        junction::fuzz::LoadFixtureTokenizer("data/e2e_model_tokenizer", /*required=*/true);
    return served;
  }();
  return *model;
}

}  // namespace internal

// Returns false when an accepted input breaks a property stated above.
inline bool HttpRequestTarget(const uint8_t* data, size_t size) {
  const junction::ServedModel& model = internal::Model();
  if (size == 0) return true;
  const bool chat = data[0] & 1;
  junction::server::CompletionRequest request;
  std::optional<junction::server::ApiError> error = junction::server::ParseCompletionRequest(
      junction::fuzz::AsText(data + 1, size - 1), model, chat, request);
  if (error.has_value()) {
    return error->http_status() >= 400 && error->http_status() < 600 && !error->Body().empty();
  }
  if (request.prompts.empty() || request.n < 1 || request.sampling.max_tokens < 1) return false;
  for (const auto& prompt : request.prompts) {
    if (prompt.empty()) return false;
    for (junction::TokenId id : prompt) {
      if (id < 0 || id >= model.spec.vocab_size) return false;
    }
    if (static_cast<int64_t>(prompt.size()) + request.sampling.max_tokens >
        model.spec.max_context) {
      return false;
    }
  }
  return true;
}

}  // namespace junction::fuzz
