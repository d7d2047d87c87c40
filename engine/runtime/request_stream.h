// RequestStreamImpl: the channel between the engine thread (producer) and one consumer: a
// mutex + condition-variable queue of deltas. Push is called by the engine thread only; Next by
// one reader thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>

#include "engine/runtime/engine_api.h"

namespace junction {

class RequestStreamImpl : public RequestStream {
 public:
  RequestStreamImpl(RequestId id, RequestPlan plan) : id_(id), plan_(std::move(plan)) {}

  RequestId id() const override { return id_; }
  const RequestPlan& plan() const override { return plan_; }
  std::optional<GenerationDelta> Next(std::chrono::steady_clock::time_point deadline) override;

  // Queues a delta and wakes the reader. Deltas after a final one (finish != kNone) are dropped.
  void Push(GenerationDelta delta);
  bool closed() const;  // a final delta has been pushed

 private:
  const RequestId id_;
  const RequestPlan plan_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<GenerationDelta> queue_;
  bool closed_ = false;           // the final delta was pushed
  bool final_delivered_ = false;  // ... and read
};

}  // namespace junction
