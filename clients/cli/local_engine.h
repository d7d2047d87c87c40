// A model loaded in-process for junction-cli (backends/loader: the device from --device, its
// backends, a running engine and, when the model directory has one, its tokenizer). Shared by the
// one-shot, --batch and --chat modes.
#pragma once

#include "absl/status/statusor.h"
#include "backends/loader/served_model.h"
#include "clients/cli/cli_options.h"

namespace junction::cli {

using LocalEngine = ServedModel;

// Loads options.model_dir with options.engine on options.device. Errors name the file or part at
// fault; a missing tokenizer is an error only when `require_tokenizer`.
absl::StatusOr<LocalEngine> OpenLocalEngine(const CliOptions& options, bool require_tokenizer);

}  // namespace junction::cli
