// The transport-neutral engine API (DESIGN.md §2): Submit a request, read its stream of
// deltas, Cancel it. Front doors (CLI, gRPC, HTTP) use only these types. Thread-safe: any
// thread may Submit, Cancel, read streams or take stats; one engine thread does the work.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/backend/step_batch.h"
#include "engine/common/ids.h"
#include "engine/model/model_spec.h"
#include "engine/sampling/sampling_params.h"

namespace junction {

struct GenerateRequest {
  std::vector<TokenId> prompt;  // non-empty, every id < vocab
  SamplingParams sampling;
  int priority = 0;  // lower runs first (vLLM's convention); ties are first-come first-served
  // Per-request overrides of the router: the attention policy ("full" / "window") and a pinned
  // backend name for softmax-attention layers. Empty = the router decides.
  std::string attention_policy;
  std::string attention_backend;
};

enum class FinishReason { kNone, kLength, kStop, kCancelled, kError };
const char* FinishReasonName(FinishReason reason);  // "length", "stop", "cancelled", "error"

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache
};

// The router's decision for one request: per layer kind, the backend and why the others lost.
struct LayerKindPlan {
  std::string kind;     // MixerKindName
  std::string backend;  // e.g. "cpu.flash"
  std::vector<std::string> rejected;  // "cpu.other: reason"
};
struct RequestPlan {
  std::string attention_policy;  // "full" or "window"
  std::string policy_reason;     // why (fits the context / exceeds it / requested)
  AttentionPolicy policy;
  std::vector<LayerKindPlan> layers;
};

struct TokenLogprob {
  TokenId id = 0;
  float logprob = 0;
  std::vector<std::pair<TokenId, float>> top;  // when sampling.logprobs > 0
};

// One message on a request's stream. Tokens arrive in order; the last delta has finished set.
struct GenerationDelta {
  std::vector<TokenId> token_ids;  // new tokens since the previous delta (may be empty)
  std::vector<TokenLogprob> logprobs;  // one per new token when sampling.logprobs > 0
  FinishReason finish = FinishReason::kNone;
  absl::Status error;  // set when finish == kError
  Usage usage;          // running totals; final on the last delta
  std::chrono::steady_clock::time_point time;  // when the engine produced these tokens
};

// The consumer side of a request: one reader thread.
class RequestStream {
 public:
  virtual ~RequestStream() = default;
  virtual RequestId id() const = 0;
  virtual const RequestPlan& plan() const = 0;
  // Blocks until a delta is ready or `deadline` passes. Returns the delta, or nullopt on
  // timeout. After the delta with finish != kNone, returns nullopt at once.
  virtual std::optional<GenerationDelta> Next(
      std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max()) = 0;
};

struct EngineStats {
  int running_requests = 0;
  int waiting_requests = 0;
  int kv_blocks_used = 0;
  int kv_blocks_total = 0;
  int state_slots_used = 0;
  int state_slots_total = 0;
  int64_t prompt_tokens_total = 0;
  int64_t generated_tokens_total = 0;
  int64_t preemptions_total = 0;
  int64_t prefix_cache_hit_tokens_total = 0;
  std::vector<std::pair<std::string, int64_t>> requests_by_backend;  // backend -> requests
};

class EngineApi {
 public:
  virtual ~EngineApi() = default;
  // Validates and queues `request`. Errors (nothing is queued): InvalidArgument for bad ids,
  // bad sampling params or a prompt + max_tokens beyond the model context with no window
  // policy to fall back on; ResourceExhausted when it can never fit the cache or the waiting
  // queue is full; Unavailable while draining or stopped.
  virtual absl::StatusOr<std::shared_ptr<RequestStream>> Submit(GenerateRequest request) = 0;
  // Asks the engine thread to stop `id`; its blocks and slot are freed in the next step and its
  // stream ends with FinishReason::kCancelled. Unknown or finished ids are ignored.
  virtual void Cancel(RequestId id) = 0;
  virtual EngineStats Stats() const = 0;
  // Refuse new requests (Unavailable) and return once every admitted request has finished.
  virtual void Drain() = 0;
  virtual const ModelSpec& spec() const = 0;
};

}  // namespace junction
