// junction-cli --batch FILE.jsonl: every line submitted at once to the engine, results printed
// as JSONL in input order.
#pragma once

#include "absl/status/status.h"
#include "clients/cli/cli_options.h"

namespace junction::cli {

absl::Status RunBatchCommand(const CliOptions& options);

}  // namespace junction::cli
