#include "clients/cli/batch_command.h"

namespace junction::cli {

absl::Status RunBatchCommand(const CliOptions&) {
  return absl::UnimplementedError("--batch needs the engine runtime, which is not built yet");
}

}  // namespace junction::cli
