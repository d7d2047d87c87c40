// Runs one load test: warm-up requests (not recorded), then the measured requests at their
// arrival times through a pool of workers that bounds the requests in flight. Every run is
// bounded twice: by the number of requests and by time (no request is issued after
// duration_s; every request still in flight at duration_s + request_timeout_s is stopped).
#pragma once

#include <string>
#include <vector>

#include "clients/loadgen/request_record.h"
#include "clients/loadgen/workload.h"

namespace junction::loadgen {

struct RunPlan {
  double rate = 0;  // 0 = every request at once
  double burstiness = 1;
  int concurrency = 0;  // 0 = kMaxInFlight
  int num_requests = 1;
  double duration_s = 600;
  int warmup = 0;
  double request_timeout_s = 120;
  uint64_t seed = 0;
  bool progress = false;  // draw a progress bar on stderr (the caller checks for a TTY)
  std::string label;      // shown next to the bar, e.g. "rate 4"
};

struct RunOutcome {
  std::vector<RequestRecord> records;  // measured requests that were sent, by index
  int not_sent = 0;                    // planned requests never issued (time ran out)
};

// Blocks until the run is over. Thread use: one worker per request in flight, plus a
// progress thread when asked.
RunOutcome RunLoad(Target& target, const Workload& workload, const RunPlan& plan);

}  // namespace junction::loadgen
