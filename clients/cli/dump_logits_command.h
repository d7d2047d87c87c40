// junction-cli --dump-logits FILE: one forward over the prompt (no generation); writes the
// full-sequence logits [T, vocab] as a float32 safetensors tensor named `logits`.
#pragma once

#include "absl/status/status.h"
#include "clients/cli/cli_options.h"

namespace junction::cli {

absl::Status RunDumpLogitsCommand(const CliOptions& options);

}  // namespace junction::cli
