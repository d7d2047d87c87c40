// junction-cli's one-shot mode: one prompt (--prompt text or --ids) through the in-process
// engine, streamed to stdout as it is generated (text format) or as one JSON object.
#pragma once

#include "absl/status/status.h"
#include "clients/cli/cli_options.h"

namespace junction::cli {

absl::Status RunOneShotCommand(const CliOptions& options);

}  // namespace junction::cli
