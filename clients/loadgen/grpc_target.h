// junction.v1.Generation/Generate as a loadgen target: one shared channel (HTTP/2 multiplexes
// the calls), a deadline on every call, TryCancel when the run is stopped.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "clients/loadgen/loadgen_options.h"
#include "clients/loadgen/request_record.h"

namespace junction::loadgen {

// Errors: Unavailable when the channel cannot connect within 10 seconds.
absl::StatusOr<std::unique_ptr<Target>> CreateGrpcTarget(const LoadgenOptions& options);

}  // namespace junction::loadgen
