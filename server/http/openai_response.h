// Engine results -> OpenAI JSON: whole responses, SSE chunks and usage objects for
// /v1/completions and /v1/chat/completions.
#pragma once

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "backends/loader/served_model.h"
#include "server/text_generation.h"

namespace junction::server {

// The parts of a response shared by every chunk of one request.
struct ResponseHeader {
  bool chat = false;
  std::string id;  // "cmpl-..." / "chatcmpl-..."
  int64_t created = 0;
  std::string model;
  int top_logprobs = 0;
  bool want_logprobs = false;
};

ResponseHeader MakeResponseHeader(bool chat, const std::string& model, int top_logprobs,
                                  bool want_logprobs);

// What one choice produced (non-streaming: everything; streaming: one event's worth).
struct ChoiceOutput {
  int index = 0;
  std::string text;
  std::vector<TokenLogprob> logprobs;
  const char* finish_reason = nullptr;  // null while running
  bool first = false;                   // chat streaming: the chunk that carries the role
};

// OpenAI's finish_reason for an engine one: "stop", "length"; cancelled and errors -> "abort".
const char* OpenAiFinishReason(FinishReason reason);

nlohmann::json UsageJson(const Usage& total);

// A non-streaming response with every choice and the usage.
nlohmann::json FullResponse(const ResponseHeader& header, const std::vector<ChoiceOutput>& choices,
                            const Usage& usage, const Tokenizer& tokenizer);

// One streaming chunk with one choice; `usage_null` adds "usage": null (include_usage mode).
nlohmann::json ChunkJson(const ResponseHeader& header, const ChoiceOutput& choice,
                         const Tokenizer& tokenizer, bool usage_null);

// The final include_usage chunk: no choices, the usage of the whole request.
nlohmann::json UsageChunkJson(const ResponseHeader& header, const Usage& usage);

// "data: <json>\n\n". Invalid UTF-8 in generated text is replaced, never thrown.
std::string SseEvent(const nlohmann::json& json);
inline constexpr const char* kSseDone = "data: [DONE]\n\n";

}  // namespace junction::server
