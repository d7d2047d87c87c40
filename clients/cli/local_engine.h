// A model loaded in-process for junction-cli: spec, CPU backends, a running engine and (when the
// model directory has one) its tokenizer. Shared by the one-shot, --batch and --chat modes.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "clients/cli/cli_options.h"
#include "engine/backend/backend_registry.h"
#include "engine/runtime/engine.h"
#include "engine/tokenizer/tokenizer.h"

namespace junction::cli {

struct LocalEngine {
  ModelSpec spec;
  std::unique_ptr<Tokenizer> tokenizer;  // null when the tokenizer dir has no tokenizer.json
  // Declared before the engine: the engine's runner refers to the registry.
  std::unique_ptr<BackendRegistry> registry;
  std::unique_ptr<EngineApi> engine;
};

// Loads options.model_dir with options.engine. Errors name the file or part at fault; a missing
// tokenizer is an error only when `require_tokenizer`.
absl::StatusOr<LocalEngine> OpenLocalEngine(const CliOptions& options, bool require_tokenizer);

}  // namespace junction::cli
