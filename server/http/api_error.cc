#include "server/http/api_error.h"

#include "nlohmann/json.hpp"
#include "server/status_mapping.h"

namespace junction::server {

int ApiError::http_status() const { return HttpStatusFromStatus(status); }

std::string ApiError::Body() const {
  nlohmann::json error = {{"message", std::string(status.message())},
                          {"type", OpenAiErrorType(status)},
                          {"param", nullptr},
                          {"code", nullptr}};
  if (!param.empty()) error["param"] = param;
  if (!code.empty()) error["code"] = code;
  // Messages may quote client bytes: replace invalid UTF-8 rather than throw.
  return nlohmann::json{{"error", error}}.dump(-1, ' ', false,
                                               nlohmann::json::error_handler_t::replace);
}

ApiError InvalidRequest(std::string message, std::string param, std::string code) {
  return ApiError{absl::InvalidArgumentError(message), std::move(param), std::move(code)};
}

}  // namespace junction::server
