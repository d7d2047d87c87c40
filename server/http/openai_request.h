// /v1/completions and /v1/chat/completions bodies -> validated engine requests. Validation
// follows OpenAI's: wrong types, out-of-range values and non-finite numbers are 400s naming the
// field; an unknown model is a 404; a prompt that does not fit the context with max_tokens is a
// 400 naming both lengths. Text is tokenized here (chat: through the chat template).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "engine/sampling/sampling_params.h"
#include "server/http/api_error.h"
#include "backends/loader/served_model.h"

namespace junction::server {

struct CompletionRequest {
  bool chat = false;
  std::vector<std::vector<TokenId>> prompts;  // one or more (completions accepts a list)
  SamplingParams sampling;                    // max_tokens resolved against the context
  int n = 1;                                  // choices per prompt
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool want_logprobs = false;  // completions: logprobs set; chat: logprobs true
  int top_logprobs = 0;        // alternatives to report per token
  bool skip_special_tokens = true;
  int priority = 0;
};

// Parses `body` for `model`. `chat` selects /v1/chat/completions. Returns the first problem.
std::optional<ApiError> ParseCompletionRequest(std::string_view body, const ServedModel& model,
                                               bool chat, CompletionRequest& out);

// The `model` field: required, and must name `served`. 400 when missing, 404 when unknown.
std::optional<ApiError> CheckModelField(const nlohmann::json& body, const ServedModel& served,
                                        bool required);

}  // namespace junction::server
