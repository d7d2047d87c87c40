// The one mapping from absl::Status to the front doors' codes (DESIGN.md §9): gRPC status codes,
// HTTP status codes and OpenAI error types. Handlers never pick codes by hand.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace junction::server {

// InvalidArgument/OutOfRange/FailedPrecondition -> 400, Unauthenticated -> 401,
// PermissionDenied -> 403, NotFound -> 404, ResourceExhausted -> 429, Cancelled -> 499,
// Unavailable -> 503, DeadlineExceeded -> 504, Unimplemented -> 501, anything else -> 500.
int HttpStatusFromStatus(const absl::Status& status);

// OpenAI's `error.type` for a status: "invalid_request_error", "authentication_error",
// "not_found_error", "rate_limit_error", "service_unavailable_error" or "server_error".
const char* OpenAiErrorType(const absl::Status& status);

// Same code and message (absl and gRPC code numbers agree; the switch makes it explicit).
grpc::Status GrpcStatusFromStatus(const absl::Status& status);

}  // namespace junction::server
