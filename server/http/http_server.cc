#include "server/http/http_server.h"

#include <chrono>
#include <thread>

#include <httplib.h>
#include <sys/socket.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/http/http_handlers.h"

namespace junction::server {
namespace {

constexpr int kListenBacklog = 1024;

// httplib listens with a backlog of 5 (fixed when Debian built it); a burst of connections
// would wait for SYN retransmits. Re-listening on the bound socket widens the queue.
class WideBacklogServer : public httplib::Server {
 public:
  bool WidenBacklog() { return ::listen(svr_sock_, kListenBacklog) == 0; }
};

bool NeedsApiKey(const std::string& path) {
  return absl::StartsWith(path, "/v1/") || path == "/tokenize" || path == "/detokenize";
}

size_t HeaderBytes(const httplib::Request& req) {
  size_t bytes = req.method.size() + req.target.size() + req.version.size() + 4;
  for (const auto& [name, value] : req.headers) bytes += name.size() + value.size() + 4;
  return bytes;
}

}  // namespace

HttpServer::HttpServer(ServingState& state, HttpOptions options)
    : state_(state), options_(std::move(options)), server_(std::make_unique<WideBacklogServer>()) {
  const int num_threads = std::max(options_.num_threads, 1);
  server_->new_task_queue = [num_threads] { return new httplib::ThreadPool(num_threads); };
  const ServingLimits& limits = state_.limits();
  server_->set_payload_max_length(static_cast<size_t>(limits.max_body_bytes));
  server_->set_read_timeout(limits.read_timeout_seconds, 0);
  server_->set_write_timeout(limits.read_timeout_seconds, 0);
  server_->set_keep_alive_timeout(limits.read_timeout_seconds);
  server_->set_tcp_nodelay(true);
  RegisterRoutes();
}

HttpServer::~HttpServer() = default;

void HttpServer::RegisterRoutes() {
  ServingState& state = state_;
  const int64_t max_header_bytes = state.limits().max_header_bytes;
  server_->set_pre_routing_handler([&state, max_header_bytes](const httplib::Request& req,
                                                              httplib::Response& res) {
    if (static_cast<int64_t>(HeaderBytes(req)) > max_header_bytes) {
      res.status = 431;
      res.set_content(ApiError{absl::InvalidArgumentError(absl::StrCat(
                                   "The request headers exceed ", max_header_bytes, " bytes.")),
                               "", "header_too_large"}
                          .Body(),
                      "application/json");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (NeedsApiKey(req.path) && !state.api_key().Allows(req.get_header_value("Authorization"))) {
      SendError(ApiError{absl::UnauthenticatedError("Incorrect API key provided."), "",
                         "invalid_api_key"},
                res);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Statuses set by httplib itself (404 route, 413 body, 400 framing) get an OpenAI body too.
  server_->set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req,
                                                                     httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    absl::Status status;
    std::string code;
    if (res.status == 404) {
      status = absl::NotFoundError(absl::StrCat("No route for ", req.method, " ", req.path, "."));
      code = "unknown_route";
    } else if (res.status == 413) {
      status = absl::InvalidArgumentError("The request body is too large.");
      code = "payload_too_large";
    } else if (res.status == 405) {
      status = absl::InvalidArgumentError("Method not allowed.");
    } else if (res.status >= 500) {
      status = absl::InternalError("Internal server error.");
    } else {
      status = absl::InvalidArgumentError("The HTTP request is malformed.");
    }
    res.set_content(ApiError{status, "", code}.Body(), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));
  server_->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        res.status = 500;
        res.set_content(ApiError{absl::InternalError("Internal server error.")}.Body(),
                        "application/json");
      });

  // Every handler is wrapped so that no exception reaches httplib's thread.
  auto guarded = [](auto handler) {
    return [handler](const httplib::Request& req, httplib::Response& res) {
      try {
        handler(req, res);
      } catch (...) {
        res.status = 500;
        res.set_content(ApiError{absl::InternalError("Internal server error.")}.Body(),
                        "application/json");
      }
    };
  };
  server_->Post("/v1/completions", guarded([&state](const auto& req, auto& res) {
                  HandleCompletions(state, req, res, /*chat=*/false);
                }));
  server_->Post("/v1/chat/completions", guarded([&state](const auto& req, auto& res) {
                  HandleCompletions(state, req, res, /*chat=*/true);
                }));
  server_->Get("/v1/models",
               guarded([&state](const auto&, auto& res) { HandleModels(state, res); }));
  server_->Get("/health", guarded([&state](const auto&, auto& res) { HandleHealth(state, res); }));
  server_->Get("/metrics",
               guarded([&state](const auto&, auto& res) { HandleMetrics(state, res); }));
  server_->Post("/tokenize",
                guarded([&state](const auto& req, auto& res) { HandleTokenize(state, req, res); }));
  server_->Post("/detokenize", guarded([&state](const auto& req, auto& res) {
                  HandleDetokenize(state, req, res);
                }));
}

absl::Status HttpServer::Bind() {
  if (options_.port == 0) {
    port_ = server_->bind_to_any_port(options_.host);
    if (port_ <= 0) return absl::UnavailableError(absl::StrCat("cannot bind ", options_.host));
  } else {
    if (!server_->bind_to_port(options_.host, options_.port)) {
      return absl::UnavailableError(
          absl::StrCat("cannot bind ", options_.host, ":", options_.port));
    }
    port_ = options_.port;
  }
  static_cast<WideBacklogServer*>(server_.get())->WidenBacklog();
  return absl::OkStatus();
}

void HttpServer::Serve() {
  if (!stop_requested_) server_->listen_after_bind();
  serve_returned_ = true;
}

// httplib's stop() does nothing until the listening loop runs, so a Stop that races the Serve
// thread's start (a model that fails to load at once) waits for one or the other.
void HttpServer::Stop() {
  stop_requested_ = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!serve_returned_ && std::chrono::steady_clock::now() < deadline) {
    if (server_->is_running()) {
      server_->stop();
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace junction::server
