#include "server/metrics.h"

#include <catch2/catch.hpp>

namespace junction::server {

TEST_CASE("histograms are cumulative with +Inf, sum and count", "[server]") {
  Histogram h({0.1, 1.0});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(0.5);
  h.Observe(7);
  std::string out;
  h.Render("x_seconds", "help", out);
  CHECK(out.find("x_seconds_bucket{le=\"0.1\"} 1\n") != std::string::npos);
  CHECK(out.find("x_seconds_bucket{le=\"1\"} 3\n") != std::string::npos);
  CHECK(out.find("x_seconds_bucket{le=\"+Inf\"} 4\n") != std::string::npos);
  CHECK(out.find("x_seconds_count 4\n") != std::string::npos);
  CHECK(out.find("x_seconds_sum 8.05\n") != std::string::npos);
}

TEST_CASE("the exposition carries engine stats, backends and request outcomes", "[server]") {
  ServerMetrics metrics;
  metrics.CountRequest("http", "stop");
  metrics.CountRequest("http", "stop");
  metrics.CountRequest("grpc", "length");
  metrics.ObserveTimeToFirstToken(0.03);
  EngineStats stats;
  stats.running_requests = 3;
  stats.waiting_requests = 2;
  stats.kv_blocks_used = 5;
  stats.kv_blocks_total = 10;
  stats.generated_tokens_total = 42;
  stats.requests_by_backend = {{"cpu.flash", 7}};
  const std::string out = metrics.RenderPrometheus(stats);
  CHECK(out.find("junction_requests_running 3\n") != std::string::npos);
  CHECK(out.find("junction_requests_waiting 2\n") != std::string::npos);
  CHECK(out.find("junction_kv_blocks_used 5\n") != std::string::npos);
  CHECK(out.find("junction_kv_blocks_total 10\n") != std::string::npos);
  CHECK(out.find("junction_kv_cache_usage_ratio 0.5\n") != std::string::npos);
  CHECK(out.find("junction_generation_tokens_total 42\n") != std::string::npos);
  CHECK(out.find("junction_backend_requests_total{backend=\"cpu.flash\"} 7\n") !=
        std::string::npos);
  CHECK(out.find("junction_requests_total{door=\"http\",outcome=\"stop\"} 2\n") !=
        std::string::npos);
  CHECK(out.find("junction_requests_total{door=\"grpc\",outcome=\"length\"} 1\n") !=
        std::string::npos);
  CHECK(out.find("junction_time_to_first_token_seconds_count 1\n") != std::string::npos);
  CHECK(out.find("junction_inter_token_latency_seconds_count 0\n") != std::string::npos);
}

}  // namespace junction::server
