// junction-loadgen's command line, parsed and validated once (every problem reported together).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace junction::loadgen {

// A distribution of token counts: "128" (fixed), "uniform:64:256" (inclusive), "normal:128:32"
// (mean, standard deviation; rounded, at least 1) or "file:PATH" (one count per line, drawn
// with replacement).
struct LengthDistribution {
  enum class Kind { kFixed, kUniform, kNormal, kEmpirical };
  Kind kind = Kind::kFixed;
  double a = 0;              // fixed value, uniform low, normal mean
  double b = 0;              // uniform high, normal standard deviation
  std::vector<int> samples;  // kEmpirical
  std::string text;          // as given, for reports
};
absl::StatusOr<LengthDistribution> ParseLengthDistribution(const std::string& text);

// Service-level objectives for goodput: a request is "good" when it meets every one given.
struct Slo {
  std::optional<double> ttft_ms;
  std::optional<double> tpot_ms;
  std::optional<double> e2el_ms;
  bool any() const { return ttft_ms || tpot_ms || e2el_ms; }
};

struct LoadgenOptions {
  std::string backend = "http-completions";  // http-completions | http-chat | grpc
  std::string host = "127.0.0.1";
  int port = 8000;
  std::string model;    // the "model" field of each request ("" = the server's default)
  std::string api_key;  // sent as a bearer token / gRPC authorization metadata

  // Arrivals. rate 0 = every request at once (infinite rate); burstiness 1 = Poisson.
  double rate = 0;
  double burstiness = 1.0;
  std::vector<double> rates;  // --rates sweep: one run per rate
  int concurrency = 0;        // max requests in flight; 0 = kMaxInFlight
  int num_requests = 100;
  double duration_s = 600;  // stop issuing after this long; in-flight requests get the timeout
  int warmup = 2;           // warm-up requests before each run, not counted
  double request_timeout_s = 120;

  // Workload.
  LengthDistribution input_len;
  LengthDistribution output_len;
  std::string prompts_file;  // one prompt per non-empty line (text prompts)
  int token_min = 32;        // synthetic prompt ids are drawn from [token_min, token_max]
  int token_max = 126;
  uint64_t seed = 0;
  double temperature = 0;
  bool ignore_eos = true;

  Slo slo;
  std::string json_file;   // --json: summary of every run
  std::string trace_file;  // --trace: JSONL, one line per measured request with its chunk times
  std::string plot_file;   // --plot: SVG of a --rates sweep
  bool progress = true;    // --no-progress turns the bar off (it is shown only on a TTY anyway)
};

inline constexpr int kMaxInFlight = 256;

// Errors: InvalidArgument listing every bad flag; NotFound carrying the usage for --help.
absl::StatusOr<LoadgenOptions> ParseLoadgenOptions(int argc, char** argv);
std::string LoadgenUsage();

}  // namespace junction::loadgen
