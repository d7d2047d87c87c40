// junction-loadgen: a load-test harness for junction-server's HTTP and gRPC front doors, with
// the metrics of `vllm bench serve` (see docs/loadgen.md).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "clients/loadgen/http_target.h"
#include "clients/loadgen/loadgen_options.h"
#include "clients/loadgen/metrics.h"
#include "clients/loadgen/report.h"
#include "clients/loadgen/runner.h"
#include "clients/loadgen/workload.h"
#if JUNCTION_WITH_GRPC
#include "clients/loadgen/grpc_target.h"
#endif

namespace junction::loadgen {
namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "junction-loadgen: error: %s\n", std::string(status.message()).c_str());
  return 1;
}

absl::StatusOr<std::unique_ptr<Target>> MakeTarget(const LoadgenOptions& options) {
  if (options.backend == "grpc") {
#if JUNCTION_WITH_GRPC
    return CreateGrpcTarget(options);
#else
    return absl::UnimplementedError("this build has no gRPC (JUNCTION_SERVER=OFF)");
#endif
  }
  absl::StatusOr<std::unique_ptr<HttpTarget>> http =
      HttpTarget::Create(options, options.backend == "http-chat");
  if (!http.ok()) return http.status();
  return std::unique_ptr<Target>(std::move(*http));
}

RunPlan PlanFor(const LoadgenOptions& options, double rate) {
  RunPlan plan;
  plan.rate = rate;
  plan.burstiness = options.burstiness;
  plan.concurrency = options.concurrency;
  plan.num_requests = options.num_requests;
  plan.duration_s = options.duration_s;
  plan.warmup = options.warmup;
  plan.request_timeout_s = options.request_timeout_s;
  plan.seed = options.seed;
  plan.progress = options.progress && isatty(STDERR_FILENO);
  plan.label = absl::StrCat("rate ", rate > 0 ? absl::StrFormat("%g", rate) : "inf");
  return plan;
}

int Main(int argc, char** argv) {
  absl::StatusOr<LoadgenOptions> options = ParseLoadgenOptions(argc, argv);
  if (!options.ok()) {
    if (absl::IsNotFound(options.status())) {
      std::cout << options.status().message();
      return 0;
    }
    std::fprintf(stderr, "junction-loadgen: error: %s\n(see junction-loadgen --help)\n",
                 std::string(options.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<Workload> workload = Workload::Create(*options);
  if (!workload.ok()) return Fail(workload.status());
  absl::StatusOr<std::unique_ptr<Target>> target = MakeTarget(*options);
  if (!target.ok()) return Fail(target.status());

  std::ofstream trace;
  if (!options->trace_file.empty()) {
    trace.open(options->trace_file, std::ios::trunc);
    if (!trace) return Fail(absl::InternalError("cannot write --trace " + options->trace_file));
  }
  const std::vector<double> rates =
      options->rates.empty() ? std::vector<double>{options->rate} : options->rates;
  std::vector<RunSummary> runs;
  int completed = 0;
  for (double rate : rates) {
    const RunPlan plan = PlanFor(*options, rate);
    RunOutcome outcome = RunLoad(**target, *workload, plan);
    RunSummary summary = ComputeSummary(outcome.records, outcome.not_sent, options->slo);
    summary.backend = (*target)->name();
    summary.rate = rate;
    summary.burstiness = options->burstiness;
    summary.concurrency = options->concurrency;
    summary.num_requests = options->num_requests;
    completed += summary.completed;
    std::cout << RunTable(summary, options->slo) << std::flush;
    for (const RequestRecord& record : outcome.records) {
      nlohmann::json line = RecordJson(record);
      line["rate"] = rate > 0 ? nlohmann::json(rate) : nlohmann::json("inf");
      if (trace) trace << line.dump() << "\n";
    }
    runs.push_back(std::move(summary));
  }
  if (rates.size() > 1)
    std::cout << "\nThroughput and latency by request rate\n" << SweepTable(runs);
  if (!options->json_file.empty()) {
    absl::Status s = WriteFile(options->json_file, ResultJson(*options, runs).dump(2) + "\n");
    if (!s.ok()) return Fail(s);
  }
  if (!options->plot_file.empty()) {
    const std::string subtitle = absl::StrFormat(
        "%s, input %s, output %s tokens, %d requests per rate, burstiness %g", runs[0].backend,
        options->prompts_file.empty() ? options->input_len.text : "prompts file",
        options->output_len.text, options->num_requests, options->burstiness);
    absl::Status s = WriteFile(options->plot_file, SweepPlotSvg(runs, subtitle));
    if (!s.ok()) return Fail(s);
  }
  if (completed == 0) {
    std::fprintf(stderr, "junction-loadgen: every request failed\n");
    return 3;
  }
  return 0;
}

}  // namespace
}  // namespace junction::loadgen

int main(int argc, char** argv) { return junction::loadgen::Main(argc, argv); }
