// junction-cli's command line, parsed and validated once (every problem reported together).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/common/ids.h"
#include "engine/runtime/engine.h"
#include "engine/sampling/sampling_params.h"

namespace junction::cli {

struct CliOptions {
  std::string model_dir;
  std::optional<std::string> prompt;
  std::optional<std::vector<TokenId>> ids;
  std::string format = "text";  // text | json
  std::optional<std::string> dump_logits;
  std::optional<std::string> batch_file;
  std::string tokenizer_dir;  // --tokenizer; defaults to the model dir
  std::optional<std::string> tokenize_file;
  std::optional<std::string> detokenize_file;
  int prefill_chunk = 0;
  int num_threads = 0;
  std::string device = "auto";  // --device auto|cpu|cuda (backends/loader's ChooseDevice)
  SamplingParams sampling;
  bool chat = false;          // --chat: the interactive chat REPL (clients/cli/chat_repl.h)
  std::string server;         // --server HOST:PORT: generate on a junction-server over gRPC
  std::string system_prompt;  // --system TEXT: the chat's system message
  EngineConfig engine;  // engine flags (--kv-memory, --max-seqs, ...): used by --batch
};

// Parses argv. Errors name each bad flag; `--help` returns a NotFound status carrying usage.
absl::StatusOr<CliOptions> ParseCliOptions(int argc, char** argv);
std::string CliUsage();

}  // namespace junction::cli
