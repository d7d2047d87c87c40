// Serving metrics as `vllm bench serve` defines them, computed from a run's request records.
//   TTFT  time to first token: send -> first chunk carrying generated text / token ids.
//   ITL   inter-token latency: the gaps between successive chunks of a request (all requests'
//         gaps pooled; a chunk with several tokens is one gap, as in vLLM).
//   TPOT  time per output token, per request: (e2el - ttft) / (output_tokens - 1), for
//         requests with more than one output token.
//   E2EL  end-to-end latency: send -> end of the stream.
// Throughputs divide by the run's duration (first send to last end). Goodput counts the
// requests meeting every SLO given.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "clients/loadgen/loadgen_options.h"
#include "clients/loadgen/request_record.h"
#include "nlohmann/json.hpp"

namespace junction::loadgen {

// Milliseconds. Percentiles interpolate linearly between order statistics (numpy's default).
struct Distribution {
  int count = 0;
  double mean = 0, std = 0, median = 0, p90 = 0, p99 = 0, min = 0, max = 0;
};
Distribution Summarize(std::vector<double> values_ms);
double Percentile(const std::vector<double>& sorted, double percent);

struct RunSummary {
  // What was asked.
  std::string backend;
  double rate = 0;  // requests/s asked for; 0 = all at once
  double burstiness = 1;
  int concurrency = 0;
  int num_requests = 0;  // planned
  // What happened.
  int completed = 0;
  int failed = 0;
  int not_sent = 0;                   // left when --duration ran out
  std::map<std::string, int> errors;  // error kind -> count
  double duration_s = 0;
  int64_t total_input_tokens = 0;
  int64_t total_output_tokens = 0;
  double request_throughput = 0;  // completed requests / s
  double input_throughput = 0;    // tokens / s
  double output_throughput = 0;
  double total_token_throughput = 0;
  bool has_goodput = false;
  int good_requests = 0;
  double goodput = 0;  // good requests / s
  Distribution ttft, tpot, itl, e2el;
  double max_concurrency_seen = 0;  // the most requests in flight at once
};

// `records` are the measured requests (warm-ups excluded); `not_sent` of the planned requests
// were never issued.
RunSummary ComputeSummary(const std::vector<RequestRecord>& records, int not_sent, const Slo& slo);

nlohmann::json DistributionJson(const Distribution& d);
nlohmann::json SummaryJson(const RunSummary& summary);
// One line of --trace: the record with its times.
nlohmann::json RecordJson(const RequestRecord& record);

}  // namespace junction::loadgen
