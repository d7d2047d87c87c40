// OpenAI-shaped errors: {"error": {"message", "type", "param", "code"}}. The HTTP status and
// `type` come from the status code through server/status_mapping.h.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace junction::server {

struct ApiError {
  explicit ApiError(absl::Status status, std::string param = "", std::string code = "")
      : status(std::move(status)), param(std::move(param)), code(std::move(code)) {}

  absl::Status status;  // not OK
  std::string param;    // the offending field; "" = null
  std::string code;     // machine-readable code, e.g. "invalid_type"; "" = null

  int http_status() const;
  std::string Body() const;  // the JSON document
};

ApiError InvalidRequest(std::string message, std::string param = "", std::string code = "");

}  // namespace junction::server
