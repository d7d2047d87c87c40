#include "clients/loadgen/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace junction::loadgen {
namespace {

double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

// The largest number of requests in flight at once, from the [send, end] intervals.
int MaxInFlight(const std::vector<RequestRecord>& records) {
  std::vector<std::pair<int64_t, int>> events;
  for (const RequestRecord& r : records) {
    events.push_back({r.send_ns, +1});
    events.push_back({r.end_ns, -1});
  }
  std::sort(events.begin(), events.end());  // at equal times, ends (-1) come first
  int now = 0, most = 0;
  for (const auto& [time, delta] : events) most = std::max(most, now += delta);
  return most;
}

}  // namespace

double Percentile(const std::vector<double>& sorted, double percent) {
  if (sorted.empty()) return 0;
  const double rank = percent / 100.0 * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

Distribution Summarize(std::vector<double> values) {
  Distribution d;
  d.count = static_cast<int>(values.size());
  if (values.empty()) return d;
  std::sort(values.begin(), values.end());
  double sum = 0;
  for (double v : values) sum += v;
  d.mean = sum / values.size();
  double squares = 0;
  for (double v : values) squares += (v - d.mean) * (v - d.mean);
  d.std = std::sqrt(squares / values.size());
  d.median = Percentile(values, 50);
  d.p90 = Percentile(values, 90);
  d.p99 = Percentile(values, 99);
  d.min = values.front();
  d.max = values.back();
  return d;
}

RunSummary ComputeSummary(const std::vector<RequestRecord>& records, int not_sent, const Slo& slo) {
  RunSummary s;
  s.not_sent = not_sent;
  std::vector<double> ttft, tpot, itl, e2el;
  int64_t first_send = std::numeric_limits<int64_t>::max(), last_end = 0;
  for (const RequestRecord& r : records) {
    first_send = std::min(first_send, r.send_ns);
    last_end = std::max(last_end, r.end_ns);
    if (!r.ok) {
      ++s.failed;
      ++s.errors[r.error_kind];
      continue;
    }
    ++s.completed;
    s.total_input_tokens += r.input_tokens;
    s.total_output_tokens += r.output_tokens;
    const double request_e2el = Ms(r.end_ns - r.send_ns);
    e2el.push_back(request_e2el);
    if (r.chunk_ns.empty()) continue;
    const double request_ttft = Ms(r.chunk_ns[0] - r.send_ns);
    ttft.push_back(request_ttft);
    for (size_t i = 1; i < r.chunk_ns.size(); ++i)
      itl.push_back(Ms(r.chunk_ns[i] - r.chunk_ns[i - 1]));
    double request_tpot = 0;
    if (r.output_tokens > 1) {
      request_tpot = (request_e2el - request_ttft) / (r.output_tokens - 1);
      tpot.push_back(request_tpot);
    }
    const bool good = (!slo.ttft_ms || request_ttft <= *slo.ttft_ms) &&
                      (!slo.tpot_ms || request_tpot <= *slo.tpot_ms) &&
                      (!slo.e2el_ms || request_e2el <= *slo.e2el_ms);
    if (good) ++s.good_requests;
  }
  s.duration_s = records.empty() ? 0 : static_cast<double>(last_end - first_send) / 1e9;
  const double d = std::max(s.duration_s, 1e-9);
  s.request_throughput = s.completed / d;
  s.input_throughput = s.total_input_tokens / d;
  s.output_throughput = s.total_output_tokens / d;
  s.total_token_throughput = (s.total_input_tokens + s.total_output_tokens) / d;
  s.has_goodput = slo.any();
  s.goodput = s.has_goodput ? s.good_requests / d : 0;
  if (!s.has_goodput) s.good_requests = 0;
  s.ttft = Summarize(std::move(ttft));
  s.tpot = Summarize(std::move(tpot));
  s.itl = Summarize(std::move(itl));
  s.e2el = Summarize(std::move(e2el));
  s.max_concurrency_seen = MaxInFlight(records);
  return s;
}

nlohmann::json DistributionJson(const Distribution& d) {
  return {{"count", d.count}, {"mean", d.mean}, {"std", d.std}, {"median", d.median},
          {"p90", d.p90},     {"p99", d.p99},   {"min", d.min}, {"max", d.max}};
}

nlohmann::json SummaryJson(const RunSummary& s) {
  nlohmann::json out;
  out["backend"] = s.backend;
  out["request_rate"] = s.rate > 0 ? nlohmann::json(s.rate) : nlohmann::json("inf");
  out["burstiness"] = s.burstiness;
  out["max_concurrency"] = s.concurrency;
  out["num_requests"] = s.num_requests;
  out["completed"] = s.completed;
  out["failed"] = s.failed;
  out["not_sent"] = s.not_sent;
  out["errors"] = s.errors;
  out["duration_s"] = s.duration_s;
  out["total_input_tokens"] = s.total_input_tokens;
  out["total_output_tokens"] = s.total_output_tokens;
  out["request_throughput"] = s.request_throughput;
  out["input_throughput"] = s.input_throughput;
  out["output_throughput"] = s.output_throughput;
  out["total_token_throughput"] = s.total_token_throughput;
  out["goodput"] = s.has_goodput ? nlohmann::json(s.goodput) : nlohmann::json(nullptr);
  out["good_requests"] = s.has_goodput ? nlohmann::json(s.good_requests) : nlohmann::json(nullptr);
  out["max_concurrency_seen"] = s.max_concurrency_seen;
  out["ttft_ms"] = DistributionJson(s.ttft);
  out["tpot_ms"] = DistributionJson(s.tpot);
  out["itl_ms"] = DistributionJson(s.itl);
  out["e2el_ms"] = DistributionJson(s.e2el);
  return out;
}

nlohmann::json RecordJson(const RequestRecord& r) {
  nlohmann::json out = {{"id", r.id},
                        {"index", r.index},
                        {"ok", r.ok},
                        {"send_ns", r.send_ns},
                        {"end_ns", r.end_ns},
                        {"chunk_ns", r.chunk_ns},
                        {"input_tokens", r.input_tokens},
                        {"output_tokens", r.output_tokens},
                        {"finish_reason", r.finish_reason}};
  if (!r.ok) {
    out["error_kind"] = r.error_kind;
    out["error_message"] = r.error_message;
  }
  return out;
}

}  // namespace junction::loadgen
