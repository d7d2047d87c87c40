// Server-side metrics and their Prometheus text rendering (GET /metrics). Engine gauges and
// counters come from EngineApi::Stats(); latency histograms are observed by the front doors.
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "engine/runtime/engine_api.h"

namespace junction::server {

// A Prometheus histogram with fixed upper bounds (seconds).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  // Appends `name`'s _bucket/_sum/_count lines (cumulative buckets, +Inf last).
  void Render(const std::string& name, const std::string& help, std::string& out) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket, plus +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class ServerMetrics {
 public:
  ServerMetrics();

  void ObserveTimeToFirstToken(double seconds) { time_to_first_token_.Observe(seconds); }
  void ObserveInterTokenLatency(double seconds) { inter_token_latency_.Observe(seconds); }
  // One finished request by front door ("http" / "grpc") and outcome ("length", "stop", ...).
  void CountRequest(const std::string& door, const std::string& outcome);

  // The whole exposition: engine gauges and counters from `stats`, then the histograms.
  std::string RenderPrometheus(const EngineStats& stats) const;

 private:
  Histogram time_to_first_token_;
  Histogram inter_token_latency_;
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, uint64_t>> requests_;  // "door\x1foutcome" -> count
};

}  // namespace junction::server
