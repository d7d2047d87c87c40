// The gRPC front door: junction.v1.Generation, grpc.health.v1 (SERVING once the model is loaded,
// NOT_SERVING while draining) and server reflection, with message size limits.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "server/serving_state.h"

namespace grpc {
class Server;
}

namespace junction::server {

class GenerationService;

struct GrpcOptions {
  std::string host = "127.0.0.1";
  int port = 50051;                  // 0 = any free port
  int max_message_bytes = 16 << 20;  // both directions
};

class GrpcServer {
 public:
  GrpcServer(ServingState& state, GrpcOptions options);
  ~GrpcServer();

  // Builds and starts serving on its own threads. Unavailable when the port cannot be bound.
  absl::Status Start();
  int port() const { return port_; }
  void SetServing(bool serving);
  // Stops accepting calls; calls still running get until `grace` to finish.
  void Shutdown(std::chrono::milliseconds grace);

 private:
  ServingState& state_;
  GrpcOptions options_;
  std::unique_ptr<GenerationService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace junction::server
