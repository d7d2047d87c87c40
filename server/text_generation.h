// One engine request followed as text: token ids from the engine stream go through the
// tokenizer's IncrementalDecoder (UTF-8 safe, stop strings). When a stop string completes, the
// engine request is cancelled at once (its blocks are freed) and the generation finishes with
// FinishReason::kStop. Records time-to-first-token and inter-token latency. Both front doors use
// this; it knows nothing of JSON or protobuf.
//
// One reader thread per TextGeneration (like RequestStream). Destroying an unfinished
// generation cancels its engine request.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/runtime/engine_api.h"
#include "engine/tokenizer/incremental_decoder.h"
#include "engine/tokenizer/tokenizer.h"
#include "server/metrics.h"
#include "backends/loader/served_model.h"

namespace junction::server {

struct TextEvent {
  std::string text;                           // new text (may be empty while bytes are held back)
  std::vector<TokenId> token_ids;             // new tokens
  std::vector<TokenLogprob> logprobs;         // one per new token when requested
  FinishReason finish = FinishReason::kNone;  // set on the last event
  absl::Status error;                         // when finish == kError
  Usage usage;                                // running totals; final on the last event
};

struct TextGenerationOptions {
  bool skip_special_tokens = true;
  std::string door;  // "http" or "grpc", for the request counter
};

class TextGeneration {
 public:
  // Submits `request` to the model's engine. Errors are Submit's (InvalidArgument,
  // ResourceExhausted, Unavailable). `metrics` may be null; it must outlive the generation.
  static absl::StatusOr<std::unique_ptr<TextGeneration>> Start(const ServedModel& model,
                                                               GenerateRequest request,
                                                               TextGenerationOptions options,
                                                               ServerMetrics* metrics);
  ~TextGeneration();

  // The next event, or nullopt when `deadline` passes first or the generation has finished.
  std::optional<TextEvent> Next(std::chrono::steady_clock::time_point deadline =
                                    std::chrono::steady_clock::time_point::max());

  // Client gone, deadline passed: cancels the engine request. The generation counts as finished
  // (outcome "cancelled"); Next returns nullopt from now on.
  void Cancel();

  bool finished() const { return finished_; }
  const RequestPlan& plan() const { return stream_->plan(); }
  RequestId id() const { return stream_->id(); }

 private:
  TextGeneration(const ServedModel& model, std::shared_ptr<RequestStream> stream,
                 std::vector<std::string> stop, TextGenerationOptions options,
                 ServerMetrics* metrics);
  void ObserveLatency(const GenerationDelta& delta);
  void Finish(FinishReason reason);

  const ServedModel& model_;
  std::shared_ptr<RequestStream> stream_;
  IncrementalDecoder decoder_;
  TextGenerationOptions options_;
  ServerMetrics* metrics_;
  bool finished_ = false;
  int num_tokens_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_token_;
};

}  // namespace junction::server
