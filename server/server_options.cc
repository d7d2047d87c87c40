#include "server/server_options.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace junction::server {

std::string ServerUsage() {
  return absl::StrCat(
      "usage: junction-server --model DIR [options] [engine flags]\n"
      "       junction-server --random-weights CONFIG [options] [engine flags]\n"
      "  --device auto|cpu|cuda    where the engine runs (default auto: CUDA when a GPU of\n"
      "                            sm_80+ is present and the build has the CUDA backend, else\n"
      "                            the CPU; the choice and its reason are logged)\n"
      "  --random-weights CONFIG   no checkpoint: the model of CONFIG (a config.json) with random\n"
      "                            bf16 weights generated on the GPU (benchmarks; needs CUDA)\n"
      "  --tokenizer DIR           tokenizer.json from DIR (default: the model dir; with\n"
      "                            --random-weights a synthetic byte-level one: id N >= 256\n"
      "                            decodes to \" tN\")\n"
      "  --served-model-name NAME  the `model` clients send (default: DIR)\n"
      "  --host ADDR               address for both servers (default 127.0.0.1)\n"
      "  --http-port N             OpenAI-compatible HTTP port (default 8000; 0 = any free)\n"
      "  --grpc-port N             gRPC port (default 50051; 0 = any free)\n"
      "  --api-key KEY             require `Authorization: Bearer KEY` (or $JUNCTION_API_KEY)\n"
      "  --http-threads N          HTTP connections served at once (default 128)\n"
      "  --max-body-bytes N        largest HTTP body (default 8 MiB)\n"
      "  --max-header-bytes N      largest HTTP request line + headers (default 16 KiB)\n"
      "  --read-timeout S          seconds before a slow client is dropped (default 10)\n"
      "  --max-message-bytes N     largest gRPC message (default 16 MiB)\n"
      "  --drain-timeout S         SIGTERM: seconds to wait for in-flight requests (default 60)\n"
      "  --threads N               CPU compute threads (default: every core)\n",
      EngineFlagsUsage());
}

absl::StatusOr<ServerOptions> ParseServerOptions(int argc, char** argv) {
  ServerOptions o;
  if (const char* key = std::getenv("JUNCTION_API_KEY")) o.api_key = key;
  std::vector<std::string> problems;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") return absl::NotFoundError(ServerUsage());
    if (ParseEngineFlag(argc, argv, &i, o.engine, problems)) continue;
    if (i + 1 >= argc) {
      problems.push_back(absl::StrCat(flag, ": unknown flag or missing value"));
      continue;
    }
    const std::string value = argv[++i];
    auto number = [&](auto& out) {
      int64_t v = 0;
      if (!absl::SimpleAtoi(value, &v) || v < 0) {
        problems.push_back(absl::StrCat(flag, ": '", value, "' is not a non-negative integer"));
      } else {
        out = static_cast<std::remove_reference_t<decltype(out)>>(v);
      }
    };
    if (flag == "--model")
      o.model_dir = value;
    else if (flag == "--device")
      o.device = value;
    else if (flag == "--random-weights")
      o.random_weights_config = value;
    else if (flag == "--tokenizer")
      o.tokenizer_dir = value;
    else if (flag == "--served-model-name")
      o.served_model_name = value;
    else if (flag == "--host")
      o.http.host = o.grpc.host = value;
    else if (flag == "--http-port")
      number(o.http.port);
    else if (flag == "--grpc-port")
      number(o.grpc.port);
    else if (flag == "--api-key")
      o.api_key = value;
    else if (flag == "--http-threads")
      number(o.http.num_threads);
    else if (flag == "--max-body-bytes")
      number(o.limits.max_body_bytes);
    else if (flag == "--max-header-bytes")
      number(o.limits.max_header_bytes);
    else if (flag == "--read-timeout")
      number(o.limits.read_timeout_seconds);
    else if (flag == "--max-message-bytes")
      number(o.grpc.max_message_bytes);
    else if (flag == "--drain-timeout")
      number(o.drain_timeout_seconds);
    else if (flag == "--threads")
      number(o.num_threads);
    else
      problems.push_back(absl::StrCat(flag, ": unknown flag"));
  }
  if (o.model_dir.empty() && o.random_weights_config.empty())
    problems.push_back("--model DIR (or --random-weights CONFIG) is required");
  if (!o.model_dir.empty() && !o.random_weights_config.empty())
    problems.push_back("--model and --random-weights exclude each other");
  if (o.device != "auto" && o.device != "cpu" && o.device != "cuda")
    problems.push_back(absl::StrCat("--device: '", o.device, "' is not one of auto, cpu, cuda"));
  if (o.http.port > 65535) problems.push_back("--http-port must be at most 65535");
  if (o.grpc.port > 65535) problems.push_back("--grpc-port must be at most 65535");
  if (o.http.num_threads < 1) problems.push_back("--http-threads must be at least 1");
  if (o.limits.read_timeout_seconds < 1) problems.push_back("--read-timeout must be at least 1");
  if (absl::Status s = o.engine.Validate(); !s.ok()) problems.push_back(std::string(s.message()));
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
  if (o.served_model_name.empty())
    o.served_model_name = o.model_dir.empty() ? o.random_weights_config : o.model_dir;
  return o;
}

}  // namespace junction::server
