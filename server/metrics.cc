#include "server/metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace junction::server {
namespace {

void Gauge(const std::string& name, const std::string& help, const std::string& type, double value,
           std::string& out) {
  absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, " ",
                  value, "\n");
}

std::string EscapeLabel(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  std::lock_guard<std::mutex> lock(mutex_);
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

void Histogram::Render(const std::string& name, const std::string& help, std::string& out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " histogram\n");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    absl::StrAppend(&out, name, "_bucket{le=\"", bounds_[i], "\"} ", cumulative, "\n");
  }
  cumulative += counts_.back();
  absl::StrAppend(&out, name, "_bucket{le=\"+Inf\"} ", cumulative, "\n", name, "_sum ", sum_, "\n",
                  name, "_count ", count_, "\n");
}

ServerMetrics::ServerMetrics()
    : time_to_first_token_({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
                            2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}),
      inter_token_latency_({0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,
                            0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0}) {}

void ServerMetrics::CountRequest(const std::string& door, const std::string& outcome) {
  const std::string key = absl::StrCat(door, "\x1f", outcome);
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [k, count] : requests_) {
    if (k == key) {
      ++count;
      return;
    }
  }
  requests_.emplace_back(key, 1);
}

std::string ServerMetrics::RenderPrometheus(const EngineStats& stats) const {
  std::string out;
  Gauge("junction_requests_running", "Requests in the running batch.", "gauge",
        stats.running_requests, out);
  Gauge("junction_requests_waiting", "Requests queued for admission.", "gauge",
        stats.waiting_requests, out);
  Gauge("junction_kv_blocks_used", "KV-cache blocks in use.", "gauge", stats.kv_blocks_used, out);
  Gauge("junction_kv_blocks_total", "KV-cache blocks in the pool.", "gauge", stats.kv_blocks_total,
        out);
  Gauge("junction_kv_cache_usage_ratio", "Fraction of KV-cache blocks in use.", "gauge",
        stats.kv_blocks_total > 0
            ? static_cast<double>(stats.kv_blocks_used) / stats.kv_blocks_total
            : 0.0,
        out);
  Gauge("junction_state_slots_used", "Recurrent-state slots in use.", "gauge",
        stats.state_slots_used, out);
  Gauge("junction_state_slots_total", "Recurrent-state slots in the pool.", "gauge",
        stats.state_slots_total, out);
  Gauge("junction_prompt_tokens_total", "Prompt tokens processed.", "counter",
        static_cast<double>(stats.prompt_tokens_total), out);
  Gauge("junction_generation_tokens_total", "Tokens generated.", "counter",
        static_cast<double>(stats.generated_tokens_total), out);
  Gauge("junction_preemptions_total", "Requests preempted for memory.", "counter",
        static_cast<double>(stats.preemptions_total), out);
  Gauge("junction_prefix_cache_hit_tokens_total", "Prompt tokens served from the prefix cache.",
        "counter", static_cast<double>(stats.prefix_cache_hit_tokens_total), out);

  absl::StrAppend(&out,
                  "# HELP junction_backend_requests_total Requests planned onto each backend.\n"
                  "# TYPE junction_backend_requests_total counter\n");
  for (const auto& [backend, count] : stats.requests_by_backend) {
    absl::StrAppend(&out, "junction_backend_requests_total{backend=\"", EscapeLabel(backend),
                    "\"} ", count, "\n");
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    absl::StrAppend(&out,
                    "# HELP junction_requests_total Finished requests by front door and outcome.\n"
                    "# TYPE junction_requests_total counter\n");
    for (const auto& [key, count] : requests_) {
      std::vector<std::string> parts = absl::StrSplit(key, '\x1f');
      absl::StrAppend(&out, "junction_requests_total{door=\"", EscapeLabel(parts[0]),
                      "\",outcome=\"", EscapeLabel(parts.size() > 1 ? parts[1] : ""), "\"} ", count,
                      "\n");
    }
  }
  time_to_first_token_.Render("junction_time_to_first_token_seconds",
                              "Time from request arrival to its first token.", out);
  inter_token_latency_.Render("junction_inter_token_latency_seconds",
                              "Time between consecutive tokens of a request.", out);
  return out;
}

}  // namespace junction::server
