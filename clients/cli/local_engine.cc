#include "clients/cli/local_engine.h"

#include "backends/cpu/cpu_backends.h"

namespace junction::cli {

absl::StatusOr<LocalEngine> OpenLocalEngine(const CliOptions& options, bool require_tokenizer) {
  cpu::SetCpuThreads(options.num_threads);
  ServedModelOptions load;
  load.device = options.device;
  load.tokenizer_dir = options.tokenizer_dir;
  load.require_tokenizer = require_tokenizer;
  load.verbose = false;  // the CLI's stderr carries only errors
  return LoadServedModel(options.model_dir, options.engine, load);
}

}  // namespace junction::cli
