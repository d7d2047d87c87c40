// junction-loadgen's outputs: the result table of a run (vLLM's layout), the throughput-latency
// table and SVG plot of a --rates sweep, the --json document and the --trace lines.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "clients/loadgen/loadgen_options.h"
#include "clients/loadgen/metrics.h"

namespace junction::loadgen {

std::string RunTable(const RunSummary& summary, const Slo& slo);
std::string SweepTable(const std::vector<RunSummary>& runs);
// Four panels against the request rate: TTFT, TPOT and E2E latency percentiles (p50, p90,
// p99) and output-token throughput.
std::string SweepPlotSvg(const std::vector<RunSummary>& runs, const std::string& subtitle);

// {"config": ..., "runs": [SummaryJson...]}.
nlohmann::json ResultJson(const LoadgenOptions& options, const std::vector<RunSummary>& runs);

// Writes `contents` to `path`. Errors: Internal naming the file.
absl::Status WriteFile(const std::string& path, const std::string& contents);

}  // namespace junction::loadgen
