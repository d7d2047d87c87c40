#include "clients/loadgen/http_target.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace junction::loadgen {
namespace {

std::string Truncated(std::string text) {
  if (text.size() > 200) text.resize(200);
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return text;
}

std::string StatusKind(int status) {
  if (status == 429) return "http_429";
  if (status >= 500) return "http_5xx";
  if (status >= 400) return absl::StrCat("http_", status);
  return absl::StrCat("http_", status);
}

// The error kind of a transport failure. A receiver that gave up (deadline or stop) reports
// Canceled; a read that timed out near the deadline is a timeout too.
std::string TransportKind(httplib::Error error, bool past_deadline, bool stopped) {
  if (stopped) return "stopped";
  if (past_deadline) return "timeout";
  switch (error) {
    case httplib::Error::Connection:
      return "connect";
    case httplib::Error::Read:
      return "read";
    case httplib::Error::Write:
      return "write";
    default:
      return "transport";
  }
}

httplib::Headers BaseHeaders(const LoadgenOptions& options) {
  httplib::Headers headers;
  if (!options.api_key.empty()) headers.emplace("Authorization", "Bearer " + options.api_key);
  return headers;
}

}  // namespace

bool SseStreamParser::Feed(const char* data, size_t size, int64_t now_ns) {
  buffer_.append(data, size);
  for (;;) {
    size_t end = buffer_.find("\n\n");
    size_t sep = 2;
    const size_t crlf = buffer_.find("\r\n\r\n");
    if (crlf != std::string::npos && (end == std::string::npos || crlf < end)) {
      end = crlf;
      sep = 4;
    }
    if (end == std::string::npos) break;
    const std::string event = buffer_.substr(0, end);
    buffer_.erase(0, end + sep);
    HandleEvent(event, now_ns);
  }
  return !failed_;
}

void SseStreamParser::HandleEvent(const std::string& event, int64_t now_ns) {
  // One event may hold several "data:" lines; their payloads join with newlines (SSE spec).
  std::string payload;
  bool has_data = false;
  size_t pos = 0;
  while (pos <= event.size()) {
    size_t eol = event.find('\n', pos);
    if (eol == std::string::npos) eol = event.size();
    std::string line = event.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("data:", 0) == 0) {
      std::string value = line.substr(5);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      if (has_data) payload += '\n';
      payload += value;
      has_data = true;
    }
    pos = eol + 1;
  }
  if (!has_data) return;
  if (payload == "[DONE]") {
    done_ = true;
    return;
  }
  HandleChunk(payload, now_ns);
}

void SseStreamParser::HandleChunk(const std::string& payload, int64_t now_ns) {
  const nlohmann::json chunk = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (chunk.is_discarded() || !chunk.is_object()) {
    failed_ = true;
    record_.error_kind = "bad_chunk";
    record_.error_message = Truncated(payload);
    return;
  }
  if (chunk.contains("error")) {
    failed_ = true;
    record_.error_kind = "stream_error";
    record_.error_message = Truncated(chunk["error"].value("message", chunk["error"].dump()));
    return;
  }
  const nlohmann::json* choices = chunk.contains("choices") ? &chunk["choices"] : nullptr;
  if (choices && choices->is_array() && !choices->empty()) {
    const nlohmann::json& choice = (*choices)[0];
    std::string text;
    if (chat_) {
      if (choice.contains("delta") && choice["delta"].contains("content") &&
          choice["delta"]["content"].is_string())
        text = choice["delta"]["content"].get<std::string>();
    } else if (choice.contains("text") && choice["text"].is_string()) {
      text = choice["text"].get<std::string>();
    }
    if (!text.empty()) record_.chunk_ns.push_back(now_ns);
    if (choice.contains("finish_reason") && choice["finish_reason"].is_string())
      record_.finish_reason = choice["finish_reason"].get<std::string>();
  }
  if (chunk.contains("usage") && chunk["usage"].is_object()) {
    const nlohmann::json& usage = chunk["usage"];
    record_.input_tokens = usage.value("prompt_tokens", record_.input_tokens);
    record_.output_tokens = usage.value("completion_tokens", record_.output_tokens);
    saw_usage_ = true;
  }
}

absl::StatusOr<std::unique_ptr<HttpTarget>> HttpTarget::Create(const LoadgenOptions& options,
                                                               bool chat) {
  std::unique_ptr<HttpTarget> target(new HttpTarget(options, chat));
  if (!options.model.empty()) return target;
  httplib::Client client(options.host, options.port);
  client.set_connection_timeout(10);
  client.set_read_timeout(30);
  // A server still loading its model answers 503: wait for it, a bounded time.
  const int64_t give_up_ns = NowNs() + 60 * int64_t{1000000000};
  httplib::Result result = client.Get("/v1/models", BaseHeaders(options));
  while ((!result || result->status == 503) && NowNs() < give_up_ns) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    result = client.Get("/v1/models", BaseHeaders(options));
  }
  if (!result) {
    return absl::UnavailableError(absl::StrCat("GET http://", options.host, ":", options.port,
                                               "/v1/models: ", httplib::to_string(result.error())));
  }
  const nlohmann::json models = nlohmann::json::parse(result->body, nullptr, false);
  if (result->status != 200 || models.is_discarded() || !models.contains("data") ||
      !models["data"].is_array() || models["data"].empty() || !models["data"][0].contains("id")) {
    return absl::UnavailableError(
        absl::StrCat("GET /v1/models answered ", result->status, ": ", Truncated(result->body)));
  }
  target->options_.model = models["data"][0]["id"].get<std::string>();
  return target;
}

std::string HttpTarget::RequestBody(const RequestSpec& spec) const {
  nlohmann::json body;
  body["model"] = options_.model;
  if (chat_) {
    body["messages"] = nlohmann::json::array({{{"role", "user"}, {"content", spec.prompt_text}}});
  } else if (!spec.prompt_ids.empty()) {
    body["prompt"] = spec.prompt_ids;
  } else {
    body["prompt"] = spec.prompt_text;
  }
  body["max_tokens"] = spec.max_tokens;
  body["temperature"] = options_.temperature;
  body["ignore_eos"] = options_.ignore_eos;
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  return body.dump();
}

RequestRecord HttpTarget::Send(const RequestSpec& spec, int64_t deadline_ns, StopSignal& stop) {
  RequestRecord record;
  record.index = spec.index;
  record.id = spec.id;
  record.input_tokens = static_cast<int>(spec.prompt_ids.size());
  SseStreamParser parser(record, chat_);
  int status = 0;
  std::string error_body;

  httplib::Request request;
  request.method = "POST";
  request.path = chat_ ? "/v1/chat/completions" : "/v1/completions";
  request.headers = BaseHeaders(options_);
  request.headers.emplace("Content-Type", "application/json");
  request.headers.emplace("Accept", "text/event-stream");
  request.headers.emplace("X-Request-Id", spec.id);
  request.body = RequestBody(spec);
  request.response_handler = [&](const httplib::Response& response) {
    status = response.status;
    return true;
  };
  request.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    const int64_t now = NowNs();
    if (status != 200) {
      if (error_body.size() < 4096) error_body.append(data, std::min<size_t>(size, 4096));
      return true;
    }
    return parser.Feed(data, size, now) && now < deadline_ns && !stop.stopped();
  };

  record.send_ns = NowNs();
  const auto remaining =
      std::chrono::nanoseconds(std::max<int64_t>(deadline_ns - record.send_ns, 1000000));
  httplib::Client client(options_.host, options_.port);
  client.set_connection_timeout(
      std::min<std::chrono::nanoseconds>(remaining, std::chrono::seconds(10)));
  client.set_read_timeout(remaining);
  client.set_write_timeout(remaining);
  httplib::Response response;
  httplib::Error error = httplib::Error::Success;
  const bool sent = client.send(request, response, error);
  record.end_ns = NowNs();

  if (parser.failed()) return record;  // error_kind set by the parser
  if (!sent) {
    record.error_kind = TransportKind(error, record.end_ns >= deadline_ns, stop.stopped());
    record.error_message = httplib::to_string(error);
  } else if (status != 200) {
    record.error_kind = StatusKind(status);
    record.error_message = Truncated(error_body);
  } else if (!parser.done()) {
    record.error_kind = "incomplete_stream";
    record.error_message = "the stream ended without data: [DONE]";
  } else {
    record.ok = true;
    if (record.output_tokens == 0) record.output_tokens = static_cast<int>(record.chunk_ns.size());
  }
  return record;
}

}  // namespace junction::loadgen
