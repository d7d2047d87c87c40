// junction.v1 protobuf messages <-> engine types, at the edge of the gRPC front door.
#pragma once

#include "absl/status/statusor.h"
#include "engine/runtime/engine_api.h"
#include "junction/v1/generation.pb.h"
#include "backends/loader/served_model.h"
#include "server/text_generation.h"

namespace junction::server {

// Validates and converts a Generate request for `model`: prompt tokenized (text) or range-checked
// (ids), sampling defaults filled in and validated, prompt + max_tokens checked against the
// context (unless the window policy is requested). InvalidArgument names the field; NotFound
// for another model.
absl::StatusOr<GenerateRequest> FromProto(const v1::GenerateRequest& request,
                                          const ServedModel& model);

void ToProto(const RequestPlan& plan, v1::BackendPlan& out);
void ToProto(const Usage& usage, v1::Usage& out);
// The delta part of an event (tokens, text, logprobs).
void ToProto(const TextEvent& event, v1::TokenDelta& out);

// "" or the served model's id; NotFound otherwise.
absl::Status CheckModel(const std::string& requested, const ServedModel& model);

}  // namespace junction::server
