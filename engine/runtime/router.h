// Router (DESIGN.md §5): per request, the attention policy for softmax-attention layers (full or
// sinks + window) and, per layer kind, the backend serving it with the reason each other
// candidate lost. Layers are bound to one backend when the model is loaded (ModelRunner::
// layer_backends()); a request's policy reaches them through ScheduledChunk::policy, so the
// router checks that the bound backend can serve the chosen policy and refuses the request
// with the reasons when it cannot.
//
// Immutable after construction: Plan may be called from any thread.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend/backend_registry.h"
#include "engine/backend/model_runner.h"
#include "engine/runtime/engine_api.h"

namespace junction {

struct RouterConfig {
  std::string attention_policy = "auto";  // server-wide default: auto | full | window
  std::string attention_backend;          // server-wide pin for softmax-attention layers
  int window_sinks = 4;
  int window_size = 0;  // 0 = the model context minus the sinks
  // The memory the request must fit in.
  int block_size = 16;
  int num_blocks = 0;
  int max_batched_tokens = 2048;
  int model_window = 0;  // > 0 when every attention-like layer slides with this window
};

class Router {
 public:
  // `registry` must outlive the router. `bound` is what the runner loaded per layer.
  Router(const ModelSpec& spec, const DeviceInfo& device, const BackendRegistry& registry,
         std::vector<LayerBackend> bound, RouterConfig config);

  // The plan for `request` (prompt and sampling.max_tokens are read), or the reason it cannot
  // be served: InvalidArgument for an unknown policy, a pinned backend that cannot serve or is
  // not the one loaded, a full-attention request beyond the model context, or a window policy
  // the bound backend lacks; ResourceExhausted when it can never fit the KV cache.
  absl::StatusOr<RequestPlan> Plan(const GenerateRequest& request) const;

  const RouterConfig& config() const { return config_; }

 private:
  absl::StatusOr<RequestPlan> ChoosePolicy(const GenerateRequest& request) const;
  absl::Status CheckWindowSupport(const RequestPlan& plan) const;
  absl::StatusOr<std::vector<LayerKindPlan>> LayerPlans(const std::string& pinned) const;
  std::string BoundBackend(MixerKind kind) const;
  int64_t KvCapacityTokens() const;

  const ModelSpec& spec_;
  DeviceInfo device_;
  const BackendRegistry& registry_;
  std::vector<LayerBackend> bound_;
  RouterConfig config_;
  bool has_softmax_layers_ = false;
};

}  // namespace junction
