// junction-server: serves one model over the OpenAI-compatible HTTP API and gRPC.
// Start-up: HTTP binds first (/health is 503 while the model loads), then the model loads and
// gRPC starts. SIGTERM/SIGINT drain: new requests get 503/UNAVAILABLE, in-flight ones finish,
// then both servers stop and the process exits 0.
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "backends/cpu/cpu_backends.h"
#include "server/grpc/grpc_server.h"
#include "server/http/http_server.h"
#include "backends/loader/served_model.h"
#include "server/server_options.h"

namespace {

using junction::server::ServerOptions;

int Fail(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "junction-server: error: %s: %s\n", what.c_str(),
               std::string(status.message()).c_str());
  return 1;
}

// Waits for SIGTERM or SIGINT (blocked in every thread, taken here synchronously).
int WaitForSignal(const sigset_t& signals) {
  int signal = 0;
  sigwait(&signals, &signal);
  return signal;
}

// Refuses new work, lets in-flight requests finish (bounded by the drain timeout).
void Drain(junction::server::ServingState& state, const junction::ServedModel& model,
           junction::server::GrpcServer& grpc_server, int timeout_seconds) {
  state.StartDraining();
  grpc_server.SetServing(false);
  std::thread engine_drain([&model] { model.engine->Drain(); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  // Engine work is done when Drain returns; responses are done when nothing is in flight.
  while (state.in_flight().load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  engine_drain.join();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace junction;
  absl::StatusOr<ServerOptions> options = server::ParseServerOptions(argc, argv);
  if (!options.ok()) {
    if (absl::IsNotFound(options.status())) {
      std::cout << options.status().message();
      return 0;
    }
    std::fprintf(stderr, "junction-server: error: %s\n(see junction-server --help)\n",
                 std::string(options.status().message()).c_str());
    return 2;
  }
  // Writes to a vanished client must fail with EPIPE, not kill the process.
  signal(SIGPIPE, SIG_IGN);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  server::ServingState state(options->api_key, options->limits);
  server::HttpServer http(state, options->http);
  if (absl::Status s = http.Bind(); !s.ok()) return Fail("http", s);
  std::fprintf(stderr, "junction-server: http listening on %s:%d\n", options->http.host.c_str(),
               http.port());
  std::thread http_thread([&http] { http.Serve(); });

  cpu::SetCpuThreads(options->num_threads);
  ServedModelOptions model_options;
  model_options.id = options->served_model_name;
  model_options.device = options->device;
  model_options.random_weights_config = options->random_weights_config;
  model_options.tokenizer_dir = options->tokenizer_dir;
  absl::StatusOr<ServedModel> model =
      LoadServedModel(options->model_dir, options->engine, model_options);
  if (!model.ok()) {
    http.Stop();
    http_thread.join();
    return Fail("loading " + (options->model_dir.empty() ? options->random_weights_config
                                                          : options->model_dir),
                model.status());
  }
  state.SetModel(&*model);
  server::GrpcServer grpc_server(state, options->grpc);
  if (absl::Status s = grpc_server.Start(); !s.ok()) {
    http.Stop();
    http_thread.join();
    return Fail("grpc", s);
  }
  std::fprintf(stderr, "junction-server: grpc listening on %s:%d\n", options->grpc.host.c_str(),
               grpc_server.port());
  std::fprintf(stderr, "junction-server: serving %s\n", model->id.c_str());

  const int signal = WaitForSignal(signals);
  std::fprintf(stderr, "junction-server: signal %d: draining\n", signal);
  Drain(state, *model, grpc_server, options->drain_timeout_seconds);
  grpc_server.Shutdown(std::chrono::seconds(1));
  http.Stop();
  http_thread.join();
  std::fprintf(stderr, "junction-server: drained, exiting\n");
  return 0;
}
