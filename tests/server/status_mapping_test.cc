#include "server/status_mapping.h"

#include <catch2/catch.hpp>

namespace junction::server {

TEST_CASE("every status maps to the documented HTTP and gRPC codes", "[server]") {
  struct Row {
    absl::Status status;
    int http;
    grpc::StatusCode grpc;
    const char* type;
  };
  const Row rows[] = {
      {absl::InvalidArgumentError("x"), 400, grpc::INVALID_ARGUMENT, "invalid_request_error"},
      {absl::UnauthenticatedError("x"), 401, grpc::UNAUTHENTICATED, "authentication_error"},
      {absl::NotFoundError("x"), 404, grpc::NOT_FOUND, "not_found_error"},
      {absl::ResourceExhaustedError("x"), 429, grpc::RESOURCE_EXHAUSTED, "rate_limit_error"},
      {absl::UnavailableError("x"), 503, grpc::UNAVAILABLE, "service_unavailable_error"},
      {absl::CancelledError("x"), 499, grpc::CANCELLED, "server_error"},
      {absl::DeadlineExceededError("x"), 504, grpc::DEADLINE_EXCEEDED, "server_error"},
      {absl::InternalError("x"), 500, grpc::INTERNAL, "server_error"},
  };
  for (const Row& row : rows) {
    INFO(row.status.ToString());
    CHECK(HttpStatusFromStatus(row.status) == row.http);
    CHECK(GrpcStatusFromStatus(row.status).error_code() == row.grpc);
    CHECK(GrpcStatusFromStatus(row.status).error_message() == "x");
    CHECK(std::string(OpenAiErrorType(row.status)) == row.type);
  }
  CHECK(GrpcStatusFromStatus(absl::OkStatus()).ok());
}

}  // namespace junction::server
