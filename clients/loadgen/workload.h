// What junction-loadgen sends and when: the requests of a run (synthetic token-id prompts,
// random-word chat prompts or lines of a prompt file) and their arrival times.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "clients/loadgen/loadgen_options.h"
#include "clients/loadgen/request_record.h"

namespace junction::loadgen {

class Workload {
 public:
  // Reads --prompts-file when given. Errors: NotFound / InvalidArgument naming the file.
  static absl::StatusOr<Workload> Create(const LoadgenOptions& options);

  // The request with this index: a pure function of (options, seed, index), so warm-up
  // requests (negative indices) and every run of a sweep see reproducible prompts.
  RequestSpec Make(int index) const;

 private:
  explicit Workload(const LoadgenOptions& options) : options_(options) {}
  int SampleLength(const LengthDistribution& d, uint64_t salt, int index) const;

  LoadgenOptions options_;
  std::vector<std::string> prompts_;  // from --prompts-file
};

// Arrival offsets in seconds from the start of a run, non-decreasing. rate 0 puts every request
// at 0. Otherwise the gaps are gamma-distributed with shape `burstiness` and mean 1 / rate
// (burstiness 1: exponential gaps, a Poisson process), as `vllm bench serve` draws them.
std::vector<double> ArrivalTimes(int num_requests, double rate, double burstiness, uint64_t seed);

}  // namespace junction::loadgen
