#include "server/grpc/generation_service.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "server/grpc/proto_conversion.h"
#include "server/status_mapping.h"
#include "server/text_generation.h"

namespace junction::server {
namespace {

constexpr auto kCancelPoll = std::chrono::milliseconds(50);

// The call's end when it was cancelled: DEADLINE_EXCEEDED when its deadline has passed.
grpc::Status CallEnded(const grpc::ServerContext& context) {
  if (context.deadline() <= std::chrono::system_clock::now()) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "the deadline passed");
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled");
}

}  // namespace

absl::StatusOr<const ServedModel*> GenerationService::Authorize(
    const grpc::ServerContext& context) const {
  if (state_.api_key().enabled()) {
    auto it = context.client_metadata().find("authorization");
    const std::string_view value = it == context.client_metadata().end()
                                       ? std::string_view()
                                       : std::string_view(it->second.data(), it->second.size());
    if (!state_.api_key().Allows(value)) {
      return absl::UnauthenticatedError("incorrect API key provided");
    }
  }
  return state_.Model();
}

grpc::Status GenerationService::Generate(grpc::ServerContext* context,
                                         const v1::GenerateRequest* request,
                                         grpc::ServerWriter<v1::GenerateResponse>* writer) {
  absl::StatusOr<const ServedModel*> model = Authorize(*context);
  if (!model.ok()) return GrpcStatusFromStatus(model.status());
  absl::StatusOr<GenerateRequest> engine_request = FromProto(*request, **model);
  if (!engine_request.ok()) return GrpcStatusFromStatus(engine_request.status());
  InFlightGuard in_flight(state_);
  TextGenerationOptions options;
  options.skip_special_tokens = request->skip_special_tokens();
  options.door = "grpc";
  absl::StatusOr<std::unique_ptr<TextGeneration>> generation =
      TextGeneration::Start(**model, std::move(*engine_request), options, &state_.metrics());
  if (!generation.ok()) return GrpcStatusFromStatus(generation.status());
  TextGeneration& gen = **generation;

  const auto call_deadline = context->deadline();
  for (;;) {
    if (context->IsCancelled()) {
      gen.Cancel();
      return CallEnded(*context);
    }
    // Wake at least every kCancelPoll to notice cancellation, and exactly at the deadline.
    auto wake = std::chrono::steady_clock::now() + kCancelPoll;
    const auto until_deadline = call_deadline - std::chrono::system_clock::now();
    if (until_deadline < kCancelPoll) {
      wake = std::chrono::steady_clock::now() +
             std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                 std::max(until_deadline, std::chrono::system_clock::duration::zero()));
    }
    std::optional<TextEvent> event = gen.Next(wake);
    if (!event) {
      if (call_deadline <= std::chrono::system_clock::now()) {
        gen.Cancel();
        return CallEnded(*context);
      }
      continue;
    }
    if (!event->token_ids.empty() || !event->text.empty()) {
      v1::GenerateResponse response;
      ToProto(*event, *response.mutable_delta());
      if (!writer->Write(response)) {
        gen.Cancel();
        return CallEnded(*context);
      }
    }
    if (event->finish == FinishReason::kNone) continue;
    if (event->finish == FinishReason::kError) return GrpcStatusFromStatus(event->error);
    if (event->finish == FinishReason::kCancelled) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the request was cancelled by the server");
    }
    v1::GenerateResponse final_response;
    v1::GenerationResult* result = final_response.mutable_result();
    result->set_finish_reason(FinishReasonName(event->finish));
    ToProto(event->usage, *result->mutable_usage());
    ToProto(gen.plan(), *result->mutable_plan());
    writer->Write(final_response);
    return grpc::Status::OK;
  }
}

grpc::Status GenerationService::Tokenize(grpc::ServerContext* context,
                                         const v1::TokenizeRequest* request,
                                         v1::TokenizeResponse* response) {
  absl::StatusOr<const ServedModel*> model = Authorize(*context);
  if (!model.ok()) return GrpcStatusFromStatus(model.status());
  if (absl::Status s = CheckModel(request->model(), **model); !s.ok()) {
    return GrpcStatusFromStatus(s);
  }
  const bool add = request->has_add_special_tokens() ? request->add_special_tokens() : true;
  for (TokenId id : (*model)->tokenizer->Encode(request->text(), add)) response->add_token_ids(id);
  response->set_max_model_len((*model)->spec.max_context);
  return grpc::Status::OK;
}

grpc::Status GenerationService::Detokenize(grpc::ServerContext* context,
                                           const v1::DetokenizeRequest* request,
                                           v1::DetokenizeResponse* response) {
  absl::StatusOr<const ServedModel*> model = Authorize(*context);
  if (!model.ok()) return GrpcStatusFromStatus(model.status());
  if (absl::Status s = CheckModel(request->model(), **model); !s.ok()) {
    return GrpcStatusFromStatus(s);
  }
  std::vector<TokenId> ids(request->token_ids().begin(), request->token_ids().end());
  for (TokenId id : ids) {
    if (id < 0 || id >= (*model)->tokenizer->vocab_size()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("token_ids: ", id, " is not in [0, ",
                                       (*model)->tokenizer->vocab_size(), ")"));
    }
  }
  response->set_text((*model)->tokenizer->Decode(ids, request->skip_special_tokens()));
  return grpc::Status::OK;
}

grpc::Status GenerationService::ListModels(grpc::ServerContext* context,
                                           const v1::ListModelsRequest* /*request*/,
                                           v1::ListModelsResponse* response) {
  absl::StatusOr<const ServedModel*> model = Authorize(*context);
  if (!model.ok()) return GrpcStatusFromStatus(model.status());
  v1::ModelInfo* info = response->add_models();
  info->set_id((*model)->id);
  info->set_max_model_len((*model)->spec.max_context);
  info->set_vocab_size((*model)->spec.vocab_size);
  info->set_architecture((*model)->architecture);
  return grpc::Status::OK;
}

}  // namespace junction::server
