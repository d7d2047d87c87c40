// What both front doors share: the served model (null until loaded), the draining flag, the API
// key, the metrics and the count of requests in flight. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

#include "absl/status/statusor.h"
#include "server/auth.h"
#include "server/metrics.h"
#include "backends/loader/served_model.h"

namespace junction::server {

struct ServingLimits {
  int64_t max_body_bytes = 8 << 20;     // --max-body-bytes: larger HTTP bodies are a 413
  int64_t max_header_bytes = 16 << 10;  // request line + headers; larger is a 431
  int read_timeout_seconds = 10;        // slow clients are dropped after this
  int max_n = 128;                      // most choices per request (n x prompts)
};

class ServingState {
 public:
  explicit ServingState(std::string api_key, ServingLimits limits = {})
      : api_key_(std::move(api_key)), limits_(limits) {}

  // Publishes the loaded model; `model` must outlive this object's use.
  void SetModel(const ServedModel* model) { model_.store(model, std::memory_order_release); }
  void StartDraining() { draining_.store(true); }
  bool draining() const { return draining_.load(); }

  // The model when it is loaded and not draining; Unavailable otherwise.
  absl::StatusOr<const ServedModel*> Model() const {
    const ServedModel* model = model_.load(std::memory_order_acquire);
    if (model == nullptr) return absl::UnavailableError("the model is still loading");
    if (draining()) return absl::UnavailableError("the server is shutting down");
    return model;
  }
  const ServedModel* loaded_model() const { return model_.load(std::memory_order_acquire); }

  const ApiKeyChecker& api_key() const { return api_key_; }
  const ServingLimits& limits() const { return limits_; }
  ServerMetrics& metrics() { return metrics_; }

  // Requests whose engine work or response is still in progress (drain waits for zero).
  std::atomic<int>& in_flight() { return in_flight_; }

 private:
  std::atomic<const ServedModel*> model_{nullptr};
  std::atomic<bool> draining_{false};
  ApiKeyChecker api_key_;
  ServingLimits limits_;
  ServerMetrics metrics_;
  std::atomic<int> in_flight_{0};
};

// Counts a request in flight for its lifetime.
class InFlightGuard {
 public:
  explicit InFlightGuard(ServingState& state) : count_(state.in_flight()) { ++count_; }
  ~InFlightGuard() { --count_; }
  InFlightGuard(const InFlightGuard&) = delete;
  InFlightGuard& operator=(const InFlightGuard&) = delete;

 private:
  std::atomic<int>& count_;
};

}  // namespace junction::server
