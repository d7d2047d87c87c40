// The OpenAI HTTP front door as a loadgen target: POST /v1/completions or /v1/chat/completions
// with "stream": true and usage included, one fresh connection per request (so connection
// reuse never hides a request behind another), SSE events timed as their last byte arrives.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "clients/loadgen/loadgen_options.h"
#include "clients/loadgen/request_record.h"

namespace junction::loadgen {

// Splits an SSE byte stream into events and folds the OpenAI chunks into a RequestRecord.
// Feed it bytes as they arrive with the time they arrived; not thread-safe.
class SseStreamParser {
 public:
  SseStreamParser(RequestRecord& record, bool chat) : record_(record), chat_(chat) {}
  // Appends bytes received at `now_ns`. Returns false once the stream carried an error event.
  bool Feed(const char* data, size_t size, int64_t now_ns);
  bool done() const { return done_; }      // saw "data: [DONE]"
  bool failed() const { return failed_; }  // an error event or an unparsable chunk

 private:
  void HandleEvent(const std::string& event, int64_t now_ns);
  void HandleChunk(const std::string& payload, int64_t now_ns);

  RequestRecord& record_;
  bool chat_;
  std::string buffer_;
  bool done_ = false;
  bool failed_ = false;
  bool saw_usage_ = false;
};

class HttpTarget final : public Target {
 public:
  // `chat` selects /v1/chat/completions. When options.model is empty, asks GET /v1/models for
  // the served model's id, waiting up to 60 s while the server is unreachable or loading
  // (503). Errors: Unavailable when it does not answer 200 by then.
  static absl::StatusOr<std::unique_ptr<HttpTarget>> Create(const LoadgenOptions& options,
                                                            bool chat);

  RequestRecord Send(const RequestSpec& spec, int64_t deadline_ns, StopSignal& stop) override;
  std::string name() const override { return chat_ ? "http-chat" : "http-completions"; }

  // The JSON body of `spec`'s request.
  std::string RequestBody(const RequestSpec& spec) const;

 private:
  HttpTarget(const LoadgenOptions& options, bool chat) : options_(options), chat_(chat) {}

  LoadgenOptions options_;
  bool chat_;
};

}  // namespace junction::loadgen
