// The unit of work of junction-loadgen: one request to send (RequestSpec) and what happened to
// it (RequestRecord). Times are absolute std::chrono::steady_clock nanoseconds (CLOCK_MONOTONIC
// on Linux, the clock of Python's time.monotonic_ns), so traces can be compared with other
// processes on the same machine.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace junction::loadgen {

int64_t NowNs();  // steady_clock::now() in nanoseconds

struct RequestSpec {
  int index = 0;                // 0.. for measured requests; negative for warm-up requests
  std::string id;               // sent as X-Request-Id / in the trace: "loadgen-<index>"
  std::vector<int> prompt_ids;  // token-id prompt (completions and gRPC), or empty
  std::string prompt_text;      // text prompt (chat, prompt files), used when ids are empty
  int max_tokens = 0;
  // Arrival time relative to the start of the run (open loop); 0 for closed-loop runs.
  double arrival_s = 0;
};

struct RequestRecord {
  int index = 0;
  std::string id;
  bool ok = false;
  std::string error_kind;  // e.g. "http_429", "http_5xx", "connect", "timeout", "grpc_UNAVAILABLE"
  std::string error_message;  // first 200 bytes of what the server or the transport said
  int64_t send_ns = 0;        // just before the connection is opened
  int64_t end_ns = 0;         // the stream ended (or failed)
  // Arrival of every chunk that carried generated tokens; chunk_ns[0] is the first token.
  std::vector<int64_t> chunk_ns;
  int input_tokens = 0;   // as the server reports (usage), else the prompt's ids
  int output_tokens = 0;  // as the server reports (usage), else the tokens counted
  std::string finish_reason;
};

// Ends a run early: Stop() runs every registered callback once (e.g. a gRPC TryCancel), and
// stopped() turns true. Thread-safe.
class StopSignal {
 public:
  void Stop();
  bool stopped() const { return stopped_.load(); }
  // Runs `on_stop` at Stop(), or at once when already stopped. Remove before `on_stop` dies.
  int Register(std::function<void()> on_stop);
  void Remove(int handle);

 private:
  std::atomic<bool> stopped_{false};
  std::mutex mutex_;
  int next_handle_ = 0;
  std::map<int, std::function<void()>> callbacks_;
};

// A front door to load. Send is called from many threads at once; it blocks until the request
// ends, fails, passes `deadline_ns` (error kind "timeout") or sees `stop` set ("stopped").
class Target {
 public:
  virtual ~Target() = default;
  virtual RequestRecord Send(const RequestSpec& spec, int64_t deadline_ns, StopSignal& stop) = 0;
  // "http-completions", "http-chat" or "grpc".
  virtual std::string name() const = 0;
};

}  // namespace junction::loadgen
