#include "clients/loadgen/request_record.h"

#include <chrono>

namespace junction::loadgen {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void StopSignal::Stop() {
  // Callbacks run under the lock so that Remove (and the death of what they touch) waits.
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopped_.exchange(true)) return;
  for (auto& [handle, callback] : callbacks_) callback();
}

int StopSignal::Register(std::function<void()> on_stop) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopped_.load()) {
      callbacks_.emplace(next_handle_, std::move(on_stop));
      return next_handle_++;
    }
  }
  on_stop();
  return -1;
}

void StopSignal::Remove(int handle) {
  std::lock_guard<std::mutex> lock(mutex_);
  callbacks_.erase(handle);
}

}  // namespace junction::loadgen
