#include "server/grpc/proto_conversion.h"

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"

namespace junction::server {
namespace {

SamplingParams SamplingFromProto(const v1::SamplingParams& p) {
  SamplingParams s;
  if (p.has_temperature()) s.temperature = p.temperature();
  if (p.has_top_p()) s.top_p = p.top_p();
  if (p.has_top_k()) s.top_k = p.top_k();
  if (p.has_min_p()) s.min_p = p.min_p();
  if (p.has_seed()) s.seed = p.seed();
  if (p.has_repetition_penalty()) s.repetition_penalty = p.repetition_penalty();
  if (p.has_presence_penalty()) s.presence_penalty = p.presence_penalty();
  if (p.has_frequency_penalty()) s.frequency_penalty = p.frequency_penalty();
  if (p.has_max_tokens()) s.max_tokens = p.max_tokens();
  s.stop.assign(p.stop().begin(), p.stop().end());
  s.stop_token_ids.assign(p.stop_token_ids().begin(), p.stop_token_ids().end());
  s.ignore_eos = p.ignore_eos();
  s.logprobs = p.logprobs();
  return s;
}

}  // namespace

absl::Status CheckModel(const std::string& requested, const ServedModel& model) {
  if (requested.empty() || requested == model.id) return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat("the model '", requested, "' does not exist"));
}

absl::StatusOr<GenerateRequest> FromProto(const v1::GenerateRequest& request,
                                          const ServedModel& model) {
  RETURN_IF_ERROR(CheckModel(request.model(), model));
  GenerateRequest out;
  switch (request.prompt_case()) {
    case v1::GenerateRequest::kText:
      out.prompt = model.tokenizer->Encode(
          request.text(), request.has_add_special_tokens() ? request.add_special_tokens() : true);
      break;
    case v1::GenerateRequest::kTokenIds:
      for (int32_t id : request.token_ids().ids()) {
        if (id < 0 || id >= model.spec.vocab_size) {
          return absl::InvalidArgumentError(
              absl::StrCat("token_ids: ", id, " is not in [0, ", model.spec.vocab_size, ")"));
        }
        out.prompt.push_back(id);
      }
      break;
    default:
      return absl::InvalidArgumentError("prompt: set text or token_ids");
  }
  if (out.prompt.empty())
    return absl::InvalidArgumentError("prompt: the prompt is empty (0 tokens)");
  out.sampling = SamplingFromProto(request.sampling());
  if (out.sampling.temperature > 2) {
    return absl::InvalidArgumentError("temperature must be in [0, 2]");
  }
  RETURN_IF_ERROR(out.sampling.Validate());
  for (TokenId id : out.sampling.stop_token_ids) {
    if (id < 0 || id >= model.spec.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("stop_token_ids: ", id, " is not in [0, ", model.spec.vocab_size, ")"));
    }
  }
  out.priority = request.priority();
  out.attention_policy = request.attention_policy();
  out.attention_backend = request.attention_backend();
  if (out.attention_policy != "" && out.attention_policy != "full" &&
      out.attention_policy != "window") {
    return absl::InvalidArgumentError("attention_policy must be \"\", \"full\" or \"window\"");
  }
  const int64_t context = model.spec.max_context;
  const int64_t total = static_cast<int64_t>(out.prompt.size()) + out.sampling.max_tokens;
  if (out.attention_policy != "window" && total > context) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the model's context is ", context, " tokens, but ", total, " were requested (",
        out.prompt.size(), " in the prompt, ", out.sampling.max_tokens, " in max_tokens)"));
  }
  return out;
}

void ToProto(const RequestPlan& plan, v1::BackendPlan& out) {
  out.set_attention_policy(plan.attention_policy);
  out.set_policy_reason(plan.policy_reason);
  for (const LayerKindPlan& layer : plan.layers) {
    v1::LayerKindPlan* p = out.add_layers();
    p->set_kind(layer.kind);
    p->set_backend(layer.backend);
    for (const std::string& r : layer.rejected) p->add_rejected(r);
  }
}

void ToProto(const Usage& usage, v1::Usage& out) {
  out.set_prompt_tokens(usage.prompt_tokens);
  out.set_completion_tokens(usage.completion_tokens);
  out.set_cached_prompt_tokens(usage.cached_prompt_tokens);
}

void ToProto(const TextEvent& event, v1::TokenDelta& out) {
  for (TokenId id : event.token_ids) out.add_token_ids(id);
  out.set_text(event.text);
  for (const TokenLogprob& lp : event.logprobs) {
    v1::TokenLogprob* p = out.add_logprobs();
    p->set_token_id(lp.id);
    p->set_logprob(lp.logprob);
    for (const auto& [id, logprob] : lp.top) {
      v1::TopLogprob* top = p->add_top();
      top->set_token_id(id);
      top->set_logprob(logprob);
    }
  }
}

}  // namespace junction::server
