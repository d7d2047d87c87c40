// junction-server's command line, parsed and validated once (every problem reported together).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "engine/runtime/engine.h"
#include "server/grpc/grpc_server.h"
#include "server/http/http_server.h"
#include "server/serving_state.h"

namespace junction::server {

struct ServerOptions {
  std::string model_dir;
  std::string served_model_name;   // defaults to model_dir (or random_weights_config)
  std::string device = "auto";     // --device auto|cpu|cuda
  std::string random_weights_config;  // --random-weights CONFIG (CUDA; then --model is unused)
  std::string tokenizer_dir;          // --tokenizer DIR (default: the model dir)
  std::string api_key;             // --api-key, or $JUNCTION_API_KEY
  int num_threads = 0;             // CPU compute threads (0 = every core)
  int drain_timeout_seconds = 60;  // how long SIGTERM waits for in-flight requests
  HttpOptions http;
  GrpcOptions grpc;
  ServingLimits limits;
  EngineConfig engine;
};

// Errors: InvalidArgument listing every bad flag; NotFound carrying the usage for --help.
absl::StatusOr<ServerOptions> ParseServerOptions(int argc, char** argv);
std::string ServerUsage();

}  // namespace junction::server
