#include "clients/loadgen/loadgen_options.h"

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <type_traits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace junction::loadgen {
namespace {

bool ParseDouble(absl::string_view text, double& out) {
  return absl::SimpleAtod(text, &out) && std::isfinite(out);
}

absl::Status ParseSlo(const std::string& text, Slo& slo) {
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(part, '=');
    double value;
    if (!ParseDouble(kv.second, value) || value <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--slo: '", part, "' is not NAME=positive milliseconds"));
    }
    if (kv.first == "ttft_ms")
      slo.ttft_ms = value;
    else if (kv.first == "tpot_ms")
      slo.tpot_ms = value;
    else if (kv.first == "e2el_ms")
      slo.e2el_ms = value;
    else {
      return absl::InvalidArgumentError(
          absl::StrCat("--slo: unknown objective '", kv.first, "' (ttft_ms, tpot_ms, e2el_ms)"));
    }
  }
  if (!slo.any()) return absl::InvalidArgumentError("--slo names no objective");
  return absl::OkStatus();
}

absl::Status ParseRates(const std::string& text, std::vector<double>& rates) {
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    double rate;
    if (!ParseDouble(part, rate) || rate <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--rates: '", part, "' is not a positive rate"));
    }
    rates.push_back(rate);
  }
  if (rates.empty()) return absl::InvalidArgumentError("--rates is empty");
  return absl::OkStatus();
}

// Checks the combinations of flags that parsing one flag at a time cannot see.
void ValidateOptions(const LoadgenOptions& o, std::vector<std::string>& problems) {
  if (o.backend != "http-completions" && o.backend != "http-chat" && o.backend != "grpc")
    problems.push_back("--backend must be http-completions, http-chat or grpc");
  if (o.port <= 0 || o.port > 65535) problems.push_back("--port must be in 1..65535");
  if (o.host.empty()) problems.push_back("--host is empty");
  if (o.rate < 0) problems.push_back("--rate must be >= 0 (0 = all at once)");
  if (o.burstiness <= 0) problems.push_back("--burstiness must be > 0");
  if (o.concurrency < 0 || o.concurrency > kMaxInFlight)
    problems.push_back(absl::StrCat("--concurrency must be in 0..", kMaxInFlight));
  if (o.num_requests < 1 || o.num_requests > 1000000)
    problems.push_back("--num-requests must be in 1..1000000");
  if (o.duration_s <= 0 || o.duration_s > 86400)
    problems.push_back("--duration must be in (0, 86400]");
  if (o.warmup < 0 || o.warmup > 1000) problems.push_back("--warmup must be in 0..1000");
  if (o.request_timeout_s <= 0) problems.push_back("--request-timeout must be > 0");
  if (o.token_min < 0 || o.token_max < o.token_min)
    problems.push_back("--token-range must be LO:HI with 0 <= LO <= HI");
  if (o.temperature < 0 || o.temperature > 2) problems.push_back("--temperature must be in [0, 2]");
  if (!o.plot_file.empty() && o.rates.empty()) problems.push_back("--plot needs a --rates sweep");
  if (!o.rates.empty() && o.rate > 0) problems.push_back("give --rate or --rates, not both");
}

}  // namespace

absl::StatusOr<LengthDistribution> ParseLengthDistribution(const std::string& text) {
  LengthDistribution d;
  d.text = text;
  const std::vector<std::string> parts = absl::StrSplit(text, ':');
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "': ", why));
  };
  if (parts.size() == 1) {
    if (!ParseDouble(parts[0], d.a) || d.a < 1 || d.a != std::floor(d.a))
      return bad("a length must be a positive integer");
    return d;
  }
  if (parts[0] == "file") {
    d.kind = LengthDistribution::Kind::kEmpirical;
    const std::string path = text.substr(5);
    std::ifstream in(path);
    if (!in) return bad("cannot open the file");
    std::string line;
    while (std::getline(in, line)) {
      int value;
      absl::string_view stripped = absl::StripAsciiWhitespace(line);
      if (stripped.empty()) continue;
      if (!absl::SimpleAtoi(stripped, &value) || value < 1)
        return bad(absl::StrCat("line '", stripped, "' is not a positive integer"));
      d.samples.push_back(value);
    }
    if (d.samples.empty()) return bad("the file has no lengths");
    return d;
  }
  if (parts.size() != 3 || !ParseDouble(parts[1], d.a) || !ParseDouble(parts[2], d.b))
    return bad("expected N, uniform:LO:HI, normal:MEAN:STD or file:PATH");
  if (parts[0] == "uniform") {
    d.kind = LengthDistribution::Kind::kUniform;
    if (d.a < 1 || d.b < d.a) return bad("uniform needs 1 <= LO <= HI");
  } else if (parts[0] == "normal") {
    d.kind = LengthDistribution::Kind::kNormal;
    if (d.a < 1 || d.b < 0) return bad("normal needs MEAN >= 1 and STD >= 0");
  } else {
    return bad("expected N, uniform:LO:HI, normal:MEAN:STD or file:PATH");
  }
  return d;
}

std::string LoadgenUsage() {
  return R"(usage: junction-loadgen [--backend http-completions|http-chat|grpc] [--host H] [--port P]
                        [arrivals] [workload] [output]
target:
  --backend B           http-completions (default), http-chat (OpenAI chat, streaming) or grpc
  --host H --port P     the server (default 127.0.0.1:8000); nothing else is contacted
  --model NAME          the model field of each request  --api-key KEY
arrivals (open loop unless --concurrency alone is given):
  --rate R              requests per second (default 0 = all at once)
  --burstiness B        gamma arrivals with shape B (1 = Poisson, <1 burstier, >1 smoother)
  --rates 1,2,4,8       a sweep: one run per rate
  --concurrency N       at most N requests in flight (default and cap 256)
  --num-requests N      requests per run (default 100)
  --duration S          stop issuing after S seconds (default 600); the bound on every run
  --warmup N            uncounted warm-up requests before each run (default 2)
  --request-timeout S   per-request limit (default 120)
workload:
  --input-len D  --output-len D   token counts: N, uniform:LO:HI, normal:MEAN:STD or file:PATH
                        (default 128 and 64); prompts are random ids in --token-range (chat:
                        random words)
  --token-range LO:HI   ids of synthetic prompts (default 32:126)
  --prompts-file FILE   text prompts, one per non-empty line, used in turn
  --seed S  --temperature T (default 0)  --no-ignore-eos
output:
  --slo ttft_ms=500,tpot_ms=50[,e2el_ms=..]   goodput objectives
  --json FILE           every run's metrics as JSON
  --trace FILE          JSONL: each measured request's send, chunk and end times (steady clock ns)
  --plot FILE.svg       latency percentiles and throughput against the rate (with --rates)
  --no-progress         no progress bar (it is drawn on stderr only when stderr is a TTY)
)";
}

namespace {

// Walks argv, handing out flag values and collecting every problem.
class ArgReader {
 public:
  ArgReader(int argc, char** argv, std::vector<std::string>& problems)
      : argc_(argc), argv_(argv), problems_(problems) {}

  bool Next() { return ++index_ < argc_; }
  std::string flag() const { return argv_[index_]; }
  void Problem(std::string problem) { problems_.push_back(std::move(problem)); }
  void Check(const absl::Status& status) {
    if (!status.ok()) Problem(std::string(status.message()));
  }

  std::string Value() {
    const std::string name = flag();
    if (index_ + 1 >= argc_) {
      Problem(name + " needs a value");
      return "";
    }
    return argv_[++index_];
  }

  template <typename T>
  void Number(T& out) {
    const std::string name = flag();
    const std::string v = Value();
    bool ok;
    if constexpr (std::is_floating_point_v<T>) {
      ok = ParseDouble(v, out);
    } else {
      ok = absl::SimpleAtoi(v, &out);
    }
    if (!ok) Problem(absl::StrCat(name, ": '", v, "' is not a number"));
  }

  void Length(LengthDistribution& out) {
    const std::string name = flag();
    absl::StatusOr<LengthDistribution> d = ParseLengthDistribution(Value());
    if (d.ok()) {
      out = *std::move(d);
    } else {
      Problem(absl::StrCat(name, ": ", d.status().message()));
    }
  }

  void TokenRange(LoadgenOptions& o) {
    const std::string v = Value();
    std::pair<std::string, std::string> lo_hi = absl::StrSplit(v, ':');
    if (!absl::SimpleAtoi(lo_hi.first, &o.token_min) ||
        !absl::SimpleAtoi(lo_hi.second, &o.token_max)) {
      Problem("--token-range: '" + v + "' is not LO:HI");
    }
  }

 private:
  int argc_;
  char** argv_;
  int index_ = 0;
  std::vector<std::string>& problems_;
};

using FlagHandler = std::function<void(ArgReader&, LoadgenOptions&)>;

const std::map<std::string, FlagHandler>& FlagHandlers() {
  using R = ArgReader&;
  using O = LoadgenOptions&;
  static const auto* handlers = new std::map<std::string, FlagHandler>{
      {"--backend", [](R r, O o) { o.backend = r.Value(); }},
      {"--host", [](R r, O o) { o.host = r.Value(); }},
      {"--port", [](R r, O o) { r.Number(o.port); }},
      {"--model", [](R r, O o) { o.model = r.Value(); }},
      {"--api-key", [](R r, O o) { o.api_key = r.Value(); }},
      {"--rate", [](R r, O o) { r.Number(o.rate); }},
      {"--burstiness", [](R r, O o) { r.Number(o.burstiness); }},
      {"--rates", [](R r, O o) { r.Check(ParseRates(r.Value(), o.rates)); }},
      {"--concurrency", [](R r, O o) { r.Number(o.concurrency); }},
      {"--num-requests", [](R r, O o) { r.Number(o.num_requests); }},
      {"--duration", [](R r, O o) { r.Number(o.duration_s); }},
      {"--warmup", [](R r, O o) { r.Number(o.warmup); }},
      {"--request-timeout", [](R r, O o) { r.Number(o.request_timeout_s); }},
      {"--input-len", [](R r, O o) { r.Length(o.input_len); }},
      {"--output-len", [](R r, O o) { r.Length(o.output_len); }},
      {"--prompts-file", [](R r, O o) { o.prompts_file = r.Value(); }},
      {"--token-range", [](R r, O o) { r.TokenRange(o); }},
      {"--seed", [](R r, O o) { r.Number(o.seed); }},
      {"--temperature", [](R r, O o) { r.Number(o.temperature); }},
      {"--no-ignore-eos", [](R, O o) { o.ignore_eos = false; }},
      {"--slo", [](R r, O o) { r.Check(ParseSlo(r.Value(), o.slo)); }},
      {"--json", [](R r, O o) { o.json_file = r.Value(); }},
      {"--trace", [](R r, O o) { o.trace_file = r.Value(); }},
      {"--plot", [](R r, O o) { o.plot_file = r.Value(); }},
      {"--no-progress", [](R, O o) { o.progress = false; }},
  };
  return *handlers;
}

}  // namespace

absl::StatusOr<LoadgenOptions> ParseLoadgenOptions(int argc, char** argv) {
  LoadgenOptions o;
  o.input_len = *ParseLengthDistribution("128");
  o.output_len = *ParseLengthDistribution("64");
  std::vector<std::string> problems;
  ArgReader reader(argc, argv, problems);
  while (reader.Next()) {
    const std::string flag = reader.flag();
    if (flag == "--help" || flag == "-h") return absl::NotFoundError(LoadgenUsage());
    auto handler = FlagHandlers().find(flag);
    if (handler == FlagHandlers().end()) {
      problems.push_back("unknown flag " + flag);
    } else {
      handler->second(reader, o);
    }
  }
  ValidateOptions(o, problems);
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
  return o;
}

}  // namespace junction::loadgen
