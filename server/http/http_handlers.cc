#include "server/http/http_handlers.h"

#include <httplib.h>

#include <chrono>
#include <climits>

#include "absl/strings/str_cat.h"
#include "server/http/completion_run.h"
#include "server/http/json_fields.h"
#include "server/http/openai_request.h"

namespace junction::server {
namespace {

constexpr auto kStreamPoll = std::chrono::milliseconds(100);

// The model, or a 503 already sent.
const ServedModel* ModelOrSend(ServingState& state, httplib::Response& res) {
  absl::StatusOr<const ServedModel*> model = state.Model();
  if (model.ok()) return *model;
  SendError(ApiError{model.status(), "", state.draining() ? "server_draining" : "model_loading"},
            res);
  return nullptr;
}

ApiError EngineError(const absl::Status& status) {
  const char* code = "";
  if (absl::IsResourceExhausted(status)) code = "rate_limit_exceeded";
  if (absl::IsUnavailable(status)) code = "server_draining";
  return ApiError{status, "", code};
}

void StreamRun(std::shared_ptr<CompletionRun> run, httplib::Response& res) {
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [run](size_t /*offset*/, httplib::DataSink& sink) {
        try {
          std::string events;
          const bool more = run->NextSseEvents(kStreamPoll, events);
          if (!events.empty() && !sink.write(events.data(), events.size())) {
            run->Cancel();  // the client is gone: free its blocks now
            return false;
          }
          if (!more) sink.done();
          return true;
        } catch (...) {
          run->Cancel();
          return false;
        }
      },
      [run](bool success) {
        if (!success) run->Cancel();
      });
}

}  // namespace

void SendError(const ApiError& error, httplib::Response& res) {
  res.status = error.http_status();
  if (res.status == 429) res.set_header("Retry-After", "1");
  res.set_content(error.Body(), "application/json");
}

void SendJson(const nlohmann::json& json, httplib::Response& res) {
  res.status = 200;
  res.set_content(json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void HandleCompletions(ServingState& state, const httplib::Request& req, httplib::Response& res,
                       bool chat) {
  const ServedModel* model = ModelOrSend(state, res);
  if (model == nullptr) return;
  CompletionRequest request;
  if (auto error = ParseCompletionRequest(req.body, *model, chat, request)) {
    return SendError(*error, res);
  }
  absl::StatusOr<std::unique_ptr<CompletionRun>> run = CompletionRun::Start(state, *model, request);
  if (!run.ok()) return SendError(EngineError(run.status()), res);
  if (request.stream) return StreamRun(std::shared_ptr<CompletionRun>(std::move(*run)), res);
  absl::StatusOr<nlohmann::json> response = (*run)->Collect();
  if (!response.ok()) return SendError(EngineError(response.status()), res);
  SendJson(*response, res);
}

void HandleModels(ServingState& state, httplib::Response& res) {
  const ServedModel* model = ModelOrSend(state, res);
  if (model == nullptr) return;
  static const int64_t created = std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
  nlohmann::json entry = {{"id", model->id},
                          {"object", "model"},
                          {"created", created},
                          {"owned_by", "junction"},
                          {"max_model_len", model->spec.max_context}};
  SendJson({{"object", "list"}, {"data", nlohmann::json::array({entry})}}, res);
}

void HandleHealth(ServingState& state, httplib::Response& res) {
  if (ModelOrSend(state, res) == nullptr) return;
  res.status = 200;
  res.set_content("{\"status\":\"ok\"}", "application/json");
}

void HandleMetrics(ServingState& state, httplib::Response& res) {
  const ServedModel* model = state.loaded_model();
  const EngineStats stats = model != nullptr ? model->engine->Stats() : EngineStats{};
  res.status = 200;
  res.set_content(state.metrics().RenderPrometheus(stats), "text/plain; version=0.0.4");
}

void HandleTokenize(ServingState& state, const httplib::Request& req, httplib::Response& res) {
  const ServedModel* model = ModelOrSend(state, res);
  if (model == nullptr) return;
  nlohmann::json body;
  if (auto error = ParseJsonObject(req.body, body)) return SendError(*error, res);
  if (auto error = CheckModelField(body, *model, /*required=*/false)) return SendError(*error, res);
  JsonFields f(body);
  std::string prompt;
  bool add_special_tokens = true;
  if (f.Get("prompt") == nullptr) {
    f.Fail(InvalidRequest("Missing required parameter: 'prompt'.", "prompt",
                          "missing_required_parameter"));
  }
  f.String("prompt", prompt);
  f.Bool("add_special_tokens", add_special_tokens);
  if (!f.ok()) return SendError(*f.error(), res);
  const std::vector<TokenId> ids = model->tokenizer->Encode(prompt, add_special_tokens);
  SendJson({{"tokens", ids}, {"count", ids.size()}, {"max_model_len", model->spec.max_context}},
           res);
}

void HandleDetokenize(ServingState& state, const httplib::Request& req, httplib::Response& res) {
  const ServedModel* model = ModelOrSend(state, res);
  if (model == nullptr) return;
  nlohmann::json body;
  if (auto error = ParseJsonObject(req.body, body)) return SendError(*error, res);
  if (auto error = CheckModelField(body, *model, /*required=*/false)) return SendError(*error, res);
  JsonFields f(body);
  std::vector<int32_t> ids;
  bool skip_special_tokens = false;
  if (f.Get("tokens") == nullptr) {
    f.Fail(InvalidRequest("Missing required parameter: 'tokens'.", "tokens",
                          "missing_required_parameter"));
  }
  f.IntList("tokens", 0, model->tokenizer->vocab_size() - 1, ids);
  f.Bool("skip_special_tokens", skip_special_tokens);
  if (!f.ok()) return SendError(*f.error(), res);
  SendJson({{"prompt", model->tokenizer->Decode(ids, skip_special_tokens)}}, res);
}

}  // namespace junction::server
