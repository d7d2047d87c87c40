// The engine side of one /v1/completions or /v1/chat/completions request: every choice
// (prompts x n) submitted as its own engine request, then either collected into one response or
// streamed as SSE events. Owns an in-flight count for the drain. One thread uses a run at a
// time; destroying it cancels unfinished choices (freeing their blocks).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "server/http/openai_request.h"
#include "server/http/openai_response.h"
#include "server/serving_state.h"
#include "server/text_generation.h"

namespace junction::server {

class CompletionRun {
 public:
  // Submits every choice. On a Submit error (InvalidArgument, ResourceExhausted, Unavailable)
  // the choices already submitted are cancelled and the error is returned.
  static absl::StatusOr<std::unique_ptr<CompletionRun>> Start(ServingState& state,
                                                              const ServedModel& model,
                                                              const CompletionRequest& request);

  // Non-streaming: waits for every choice and returns the response document. An engine error
  // in any choice is returned as a status.
  absl::StatusOr<nlohmann::json> Collect();

  // Streaming: appends the SSE events that are ready (waiting up to `wait` for one) to `out`.
  // Returns false once the stream is complete ("data: [DONE]" appended).
  bool NextSseEvents(std::chrono::milliseconds wait, std::string& out);

  // The client is gone: cancel every unfinished choice now.
  void Cancel();

 private:
  struct Choice {
    std::unique_ptr<TextGeneration> generation;
    int prompt_index = 0;
    bool sent_first = false;
    Usage usage;
  };
  CompletionRun(ServingState& state, const ServedModel& model, const CompletionRequest& request);
  void AppendEvent(Choice& choice, int index, const TextEvent& event, std::string& out);
  Usage TotalUsage() const;

  InFlightGuard in_flight_;
  const ServedModel& model_;
  ResponseHeader header_;
  bool include_usage_ = false;
  std::vector<Choice> choices_;
  bool done_ = false;
};

}  // namespace junction::server
