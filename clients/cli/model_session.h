// ModelSession: a model loaded for junction-cli (spec, weights, CPU runner) and the commands
// that use it. Everything prints to stdout; errors come back as statuses.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "clients/cli/cli_options.h"
#include "engine/backend/backend_registry.h"
#include "engine/backend/model_runner.h"

namespace junction::cli {

class ModelSession {
 public:
  static absl::StatusOr<std::unique_ptr<ModelSession>> Open(const CliOptions& options);

  absl::Status RunOne(const CliOptions& options);
  absl::Status DumpLogits(const CliOptions& options);

 private:
  absl::StatusOr<std::vector<TokenId>> PromptIds(const CliOptions& options) const;

  ModelSpec spec_;
  BackendRegistry registry_;
  std::unique_ptr<ModelRunner> runner_;
};

// --tokenize / --detokenize.
int RunTokenizerTool(const CliOptions& options);

}  // namespace junction::cli
