#include "clients/loadgen/report.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "clients/loadgen/svg_writer.h"

namespace junction::loadgen {
namespace {

std::string RateText(double rate) { return rate > 0 ? absl::StrFormat("%g", rate) : "inf"; }

void Row(std::string& out, const std::string& name, const std::string& value) {
  absl::StrAppendFormat(&out, "%-40s %s\n", name + ":", value);
}

void Section(std::string& out, const std::string& title) {
  const int pad = std::max(0, 50 - static_cast<int>(title.size()) - 2);
  absl::StrAppend(&out, std::string(pad / 2, '-'), " ", title, " ", std::string(pad - pad / 2, '-'),
                  "\n");
}

void DistributionRows(std::string& out, const std::string& what, const Distribution& d) {
  Row(out, "Mean " + what + " (ms)", absl::StrFormat("%.2f", d.mean));
  Row(out, "Median " + what + " (ms)", absl::StrFormat("%.2f", d.median));
  Row(out, "P90 " + what + " (ms)", absl::StrFormat("%.2f", d.p90));
  Row(out, "P99 " + what + " (ms)", absl::StrFormat("%.2f", d.p99));
}

}  // namespace

std::string RunTable(const RunSummary& s, const Slo& slo) {
  std::string out;
  absl::StrAppend(&out, "============ Serving Benchmark Result ============\n");
  Row(out, "Backend", s.backend);
  Row(out, "Request rate (req/s)", RateText(s.rate));
  Row(out, "Burstiness", absl::StrFormat("%g", s.burstiness));
  Row(out, "Max concurrency", s.concurrency > 0 ? absl::StrCat(s.concurrency) : "unbounded");
  Row(out, "Successful requests", absl::StrCat(s.completed));
  Row(out, "Failed requests", absl::StrCat(s.failed));
  for (const auto& [kind, count] : s.errors) Row(out, "  error " + kind, absl::StrCat(count));
  if (s.not_sent > 0) Row(out, "Not sent (duration over)", absl::StrCat(s.not_sent));
  Row(out, "Benchmark duration (s)", absl::StrFormat("%.2f", s.duration_s));
  Row(out, "Total input tokens", absl::StrCat(s.total_input_tokens));
  Row(out, "Total generated tokens", absl::StrCat(s.total_output_tokens));
  Row(out, "Request throughput (req/s)", absl::StrFormat("%.2f", s.request_throughput));
  if (s.has_goodput) {
    std::string objectives;
    if (slo.ttft_ms) absl::StrAppendFormat(&objectives, " ttft<=%gms", *slo.ttft_ms);
    if (slo.tpot_ms) absl::StrAppendFormat(&objectives, " tpot<=%gms", *slo.tpot_ms);
    if (slo.e2el_ms) absl::StrAppendFormat(&objectives, " e2el<=%gms", *slo.e2el_ms);
    Row(out, "Request goodput (req/s)",
        absl::StrFormat("%.2f (%d good;%s)", s.goodput, s.good_requests, objectives));
  }
  Row(out, "Input token throughput (tok/s)", absl::StrFormat("%.2f", s.input_throughput));
  Row(out, "Output token throughput (tok/s)", absl::StrFormat("%.2f", s.output_throughput));
  Row(out, "Total token throughput (tok/s)", absl::StrFormat("%.2f", s.total_token_throughput));
  Row(out, "Most requests in flight", absl::StrFormat("%g", s.max_concurrency_seen));
  Section(out, "Time to First Token");
  DistributionRows(out, "TTFT", s.ttft);
  Section(out, "Time per Output Token (excl. 1st token)");
  DistributionRows(out, "TPOT", s.tpot);
  Section(out, "Inter-token Latency");
  DistributionRows(out, "ITL", s.itl);
  Section(out, "End-to-end Latency");
  DistributionRows(out, "E2EL", s.e2el);
  absl::StrAppend(&out, std::string(50, '='), "\n");
  return out;
}

std::string SweepTable(const std::vector<RunSummary>& runs) {
  std::string out = absl::StrFormat("%8s %8s %10s %9s %9s %9s %9s %9s %9s %9s %7s\n", "rate",
                                    "req/s", "out tok/s", "TTFT p50", "TTFT p90", "TTFT p99",
                                    "TPOT p50", "TPOT p99", "ITL p99", "E2EL p50", "errors");
  absl::StrAppendFormat(&out, "%8s %8s %10s %9s %9s %9s %9s %9s %9s %9s %7s\n", "(req/s)", "", "",
                        "(ms)", "(ms)", "(ms)", "(ms)", "(ms)", "(ms)", "(ms)", "");
  for (const RunSummary& s : runs) {
    absl::StrAppendFormat(&out, "%8s %8.2f %10.1f %9.1f %9.1f %9.1f %9.2f %9.2f %9.2f %9.1f %7d\n",
                          RateText(s.rate), s.request_throughput, s.output_throughput,
                          s.ttft.median, s.ttft.p90, s.ttft.p99, s.tpot.median, s.tpot.p99,
                          s.itl.p99, s.e2el.median, s.failed);
  }
  return out;
}

std::string SweepPlotSvg(const std::vector<RunSummary>& runs, const std::string& subtitle) {
  constexpr double kPanelW = 440, kPanelH = 300, kHeader = 48;
  SvgWriter svg(2 * kPanelW, 2 * kPanelH + kHeader);
  svg.Text(kPanelW, 24, "junction-loadgen: latency and throughput against request rate", 16,
           "middle", 0, "#111", true);
  svg.Text(kPanelW, 41, subtitle, 12, "middle", 0, "#555");
  const char* kColors[] = {"#1f77b4", "#ff7f0e", "#d62728"};
  auto percentiles = [&](const std::string& title, Distribution RunSummary::*field) {
    LineChart chart{title, "request rate (req/s)", "ms", {}};
    const std::pair<const char*, double Distribution::*> kLines[] = {
        {"p50", &Distribution::median}, {"p90", &Distribution::p90}, {"p99", &Distribution::p99}};
    for (int i = 0; i < 3; ++i) {
      ChartSeries series{kLines[i].first, kColors[i], i == 1, {}};
      for (const RunSummary& s : runs)
        series.points.push_back({s.rate, s.*field.*kLines[i].second});
      chart.series.push_back(std::move(series));
    }
    return chart;
  };
  DrawLineChart(svg, percentiles("Time to first token", &RunSummary::ttft), 0, kHeader, kPanelW,
                kPanelH);
  DrawLineChart(svg, percentiles("Time per output token", &RunSummary::tpot), kPanelW, kHeader,
                kPanelW, kPanelH);
  DrawLineChart(svg, percentiles("End-to-end latency", &RunSummary::e2el), 0, kHeader + kPanelH,
                kPanelW, kPanelH);
  LineChart throughput{"Throughput", "request rate (req/s)", "tokens/s", {}};
  ChartSeries output{"output tokens/s", "#2ca02c", false, {}};
  ChartSeries total{"input + output tokens/s", "#9467bd", true, {}};
  for (const RunSummary& s : runs) {
    output.points.push_back({s.rate, s.output_throughput});
    total.points.push_back({s.rate, s.total_token_throughput});
  }
  throughput.series = {output, total};
  DrawLineChart(svg, throughput, kPanelW, kHeader + kPanelH, kPanelW, kPanelH);
  return svg.Finish();
}

nlohmann::json ResultJson(const LoadgenOptions& o, const std::vector<RunSummary>& runs) {
  nlohmann::json config = {
      {"backend", o.backend},
      {"host", o.host},
      {"port", o.port},
      {"model", o.model},
      {"num_requests", o.num_requests},
      {"duration_s", o.duration_s},
      {"warmup", o.warmup},
      {"request_timeout_s", o.request_timeout_s},
      {"input_len", o.prompts_file.empty() ? o.input_len.text : "prompts-file"},
      {"output_len", o.output_len.text},
      {"prompts_file", o.prompts_file},
      {"seed", o.seed},
      {"temperature", o.temperature},
      {"ignore_eos", o.ignore_eos}};
  nlohmann::json slo = nlohmann::json::object();
  if (o.slo.ttft_ms) slo["ttft_ms"] = *o.slo.ttft_ms;
  if (o.slo.tpot_ms) slo["tpot_ms"] = *o.slo.tpot_ms;
  if (o.slo.e2el_ms) slo["e2el_ms"] = *o.slo.e2el_ms;
  config["slo"] = slo;
  nlohmann::json list = nlohmann::json::array();
  for (const RunSummary& s : runs) list.push_back(SummaryJson(s));
  return {{"tool", "junction-loadgen"}, {"config", config}, {"runs", list}};
}

absl::Status WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace junction::loadgen
