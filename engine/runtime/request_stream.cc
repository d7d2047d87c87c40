#include "engine/runtime/request_stream.h"

namespace junction {

std::optional<GenerationDelta> RequestStreamImpl::Next(
    std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  if (final_delivered_) return std::nullopt;
  const auto ready = [&] { return !queue_.empty(); };
  if (deadline == std::chrono::steady_clock::time_point::max()) {
    cv_.wait(lock, ready);
  } else if (!cv_.wait_until(lock, deadline, ready)) {
    return std::nullopt;
  }
  GenerationDelta delta = std::move(queue_.front());
  queue_.pop_front();
  if (delta.finish != FinishReason::kNone) final_delivered_ = true;
  return delta;
}

void RequestStreamImpl::Push(GenerationDelta delta) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = delta.finish != FinishReason::kNone;
    queue_.push_back(std::move(delta));
  }
  cv_.notify_all();
}

bool RequestStreamImpl::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

}  // namespace junction
