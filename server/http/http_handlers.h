// Request handlers of the HTTP front door, one per endpoint. Each converts JSON to engine types
// and back; none throws (errors become OpenAI error documents via SendError).
#pragma once

#include "server/http/api_error.h"
#include "server/serving_state.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace junction::server {

void SendError(const ApiError& error, httplib::Response& res);
void SendJson(const nlohmann::json& json, httplib::Response& res);

void HandleCompletions(ServingState& state, const httplib::Request& req, httplib::Response& res,
                       bool chat);
void HandleModels(ServingState& state, httplib::Response& res);
void HandleHealth(ServingState& state, httplib::Response& res);
void HandleMetrics(ServingState& state, httplib::Response& res);
void HandleTokenize(ServingState& state, const httplib::Request& req, httplib::Response& res);
void HandleDetokenize(ServingState& state, const httplib::Request& req, httplib::Response& res);

}  // namespace junction::server
