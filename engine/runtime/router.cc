#include "engine/runtime/router.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/common/status_macros.h"
#include "engine/runtime/scheduler.h"

namespace junction {

Router::Router(const ModelSpec& spec, const DeviceInfo& device, const BackendRegistry& registry,
               std::vector<LayerBackend> bound, RouterConfig config)
    : spec_(spec),
      device_(device),
      registry_(registry),
      bound_(std::move(bound)),
      config_(std::move(config)) {
  for (const LayerSpec& layer : spec_.layers)
    if (layer.mixer && layer.mixer->kind == MixerKind::kAttention) has_softmax_layers_ = true;
}

std::string Router::BoundBackend(MixerKind kind) const {
  for (const LayerBackend& l : bound_)
    if (l.kind == kind) return l.backend;
  return "";
}

int64_t Router::KvCapacityTokens() const {
  return static_cast<int64_t>(config_.num_blocks) * config_.block_size;
}

absl::StatusOr<RequestPlan> Router::Plan(const GenerateRequest& request) const {
  ASSIGN_OR_RETURN(RequestPlan plan, ChoosePolicy(request));
  const std::string& pinned =
      request.attention_backend.empty() ? config_.attention_backend : request.attention_backend;
  ASSIGN_OR_RETURN(plan.layers, LayerPlans(pinned));
  if (plan.policy.mode == AttentionPolicy::Mode::kWindow) {
    RETURN_IF_ERROR(CheckWindowSupport(plan));
    const int64_t total = static_cast<int64_t>(request.prompt.size()) + request.sampling.max_tokens;
    const int64_t blocks = MaxLiveBlocks(total, WindowFor(plan.policy, config_.model_window),
                                         config_.block_size, config_.max_batched_tokens);
    if (blocks > config_.num_blocks)
      return absl::ResourceExhaustedError(absl::StrCat(
          "the window policy (", plan.policy.num_sinks, " sinks + window ", plan.policy.window,
          ") needs ", blocks, " KV blocks per request; the cache has ", config_.num_blocks));
  }
  return plan;
}

absl::StatusOr<RequestPlan> Router::ChoosePolicy(const GenerateRequest& request) const {
  std::string asked =
      request.attention_policy.empty() ? config_.attention_policy : request.attention_policy;
  if (asked.empty()) asked = "auto";
  if (asked != "auto" && asked != "full" && asked != "window")
    return absl::InvalidArgumentError(
        absl::StrCat("attention_policy '", asked, "' is not one of auto, full, window"));
  const bool requested = !request.attention_policy.empty() && asked != "auto";
  const std::string source = requested ? "requested" : "server default";
  RequestPlan plan;
  const int64_t total = static_cast<int64_t>(request.prompt.size()) + request.sampling.max_tokens;
  const bool fits_context = spec_.max_context <= 0 || total <= spec_.max_context;
  const int64_t full_blocks = MaxLiveBlocks(total, WindowFor({}, config_.model_window),
                                            config_.block_size, config_.max_batched_tokens);
  const bool fits_kv = full_blocks <= config_.num_blocks;
  const std::string length = absl::StrCat("prompt + max_tokens = ", total);
  if (!has_softmax_layers_) {
    if (asked == "window")
      return absl::InvalidArgumentError(
          "attention_policy window: the model has no softmax-attention layers");
  }
  bool window = asked == "window";
  if (asked == "auto" && has_softmax_layers_) window = !fits_context || !fits_kv;
  if (!window) {
    // A model whose attention layers all slide bounds its memory itself and may run past its
    // context; everything else needs the whole request in the context and the cache.
    if (!fits_context && config_.model_window <= 0)
      return absl::InvalidArgumentError(absl::StrCat(length, " exceeds the model context (",
                                                     spec_.max_context, ") and the attention ",
                                                     "policy is full (", source, ")"));
    if (!fits_kv)
      return absl::ResourceExhaustedError(
          absl::StrCat(length, " needs ", full_blocks, " KV blocks; the cache has ",
                       config_.num_blocks, " (", KvCapacityTokens(), " tokens)"));
    plan.attention_policy = "full";
    plan.policy_reason = asked == "full" ? source
                         : has_softmax_layers_
                             ? absl::StrCat(length, " fits the model context (", spec_.max_context,
                                            ") and the KV cache (", KvCapacityTokens(), " tokens)")
                             : "the model has no softmax-attention layers";
    return plan;
  }
  const int sinks = config_.window_sinks;
  const int size = config_.window_size > 0 ? config_.window_size : spec_.max_context - sinks;
  if (size <= 0)
    return absl::InvalidArgumentError("the window policy needs a positive --window-size");
  plan.attention_policy = "window";
  plan.policy = {AttentionPolicy::Mode::kWindow, size, sinks};
  plan.policy_reason =
      asked == "window" ? source
      : !fits_context
          ? absl::StrCat(length, " exceeds the model context (", spec_.max_context, ")")
          : absl::StrCat(length, " exceeds the KV cache (", KvCapacityTokens(), " tokens)");
  return plan;
}

absl::Status Router::CheckWindowSupport(const RequestPlan& plan) const {
  const std::string bound = BoundBackend(MixerKind::kAttention);
  const MixerBackend* backend = registry_.Find(bound);
  if (backend != nullptr && backend->descriptor().window_policy) return absl::OkStatus();
  std::vector<std::string> others;
  for (const MixerBackend* b : registry_.backends())
    if (b->descriptor().kind == MixerKind::kAttention && b->descriptor().window_policy)
      others.push_back(b->descriptor().name);
  return absl::InvalidArgumentError(absl::StrCat(
      "the request needs the window attention policy (", plan.policy_reason, ") but ",
      bound.empty() ? "no backend" : bound,
      ", the backend serving the attention layers, has no window policy (sinks + window)",
      others.empty() ? "; no registered attention backend has one"
                     : absl::StrCat("; backends with one: ", absl::StrJoin(others, ", "))));
}

absl::StatusOr<std::vector<LayerKindPlan>> Router::LayerPlans(const std::string& pinned) const {
  std::vector<LayerKindPlan> plans;
  std::vector<MixerKind> seen;
  for (const LayerSpec& layer : spec_.layers) {
    if (!layer.mixer) continue;
    const MixerKind kind = layer.mixer->kind;
    if (std::find(seen.begin(), seen.end(), kind) != seen.end()) continue;
    seen.push_back(kind);
    const bool pin_here = kind == MixerKind::kAttention && !pinned.empty();
    LayerKindPlan plan;
    plan.kind = MixerKindName(kind);
    plan.backend = BoundBackend(kind);
    absl::StatusOr<BackendSelection> selection =
        registry_.Select(*layer.mixer, device_, pin_here ? pinned : "");
    if (!selection.ok()) {
      if (pin_here)
        return absl::InvalidArgumentError(absl::StrCat(
            "attention_backend '", pinned, "' cannot serve: ", selection.status().message()));
      plan.rejected.push_back(std::string(selection.status().message()));
    } else {
      for (const BackendRejection& r : selection->rejected)
        plan.rejected.push_back(absl::StrCat(r.backend, ": ", r.reason));
      if (pin_here && plan.backend != pinned)
        return absl::InvalidArgumentError(absl::StrCat(
            "attention_backend '", pinned, "' can serve the attention layers but the model was ",
            "loaded with '", plan.backend, "' (start the engine with --attention-backend ", pinned,
            ")"));
    }
    plans.push_back(std::move(plan));
  }
  return plans;
}

}  // namespace junction
