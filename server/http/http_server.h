// The OpenAI-compatible HTTP front door (cpp-httplib): routes, limits (body, headers, read
// timeouts), the bearer key, health and metrics. Handlers are thin: parse -> engine -> JSON, and
// never throw. See docs/api.md for the endpoints and every error response.
#pragma once

#include <atomic>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "server/serving_state.h"

namespace httplib {
class Server;
}

namespace junction::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8000;        // 0 = any free port
  int num_threads = 128;  // connections served at once (streams hold a thread each)
};

class HttpServer {
 public:
  HttpServer(ServingState& state, HttpOptions options);
  ~HttpServer();

  // Binds the port (listen backlog widened for bursts of connections). Errors: Unavailable
  // naming the address.
  absl::Status Bind();
  int port() const { return port_; }
  // Serves until Stop(); blocks. Call after Bind().
  void Serve();
  void Stop();

 private:
  void RegisterRoutes();

  ServingState& state_;
  HttpOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> serve_returned_{false};
  int port_ = 0;
};

}  // namespace junction::server
