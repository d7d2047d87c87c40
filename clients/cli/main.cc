// junction-cli: one-shot generation from a prompt or token ids, logits dumps, tokenizer tools.
#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "clients/cli/batch_command.h"
#include "clients/cli/chat_repl.h"
#include "clients/cli/cli_options.h"
#include "clients/cli/dump_logits_command.h"
#include "clients/cli/one_shot_command.h"
#include "clients/cli/tokenize_command.h"
#if JUNCTION_WITH_GRPC
#include "clients/cli/remote_client.h"
#endif

namespace {

int Fail(const absl::Status& status) {
  std::string message(status.message());
  for (char& c : message)
    if (c == '\n') c = ' ';
  std::fprintf(stderr, "junction-cli: error: %s\n", message.c_str());
  return 1;
}

// --chat (in-process or with --server) and one-shot --server prompts.
absl::Status RunChatOrRemote(const junction::cli::CliOptions& options) {
  using namespace junction::cli;
  std::unique_ptr<ChatBackend> backend;
  if (!options.server.empty()) {
#if JUNCTION_WITH_GRPC
    if (!options.chat) return RunRemotePrompt(options);
    absl::StatusOr<std::unique_ptr<ChatBackend>> remote = OpenRemoteChatBackend(options);
    if (!remote.ok()) return remote.status();
    backend = std::move(*remote);
#else
    return absl::UnimplementedError(
        "--server needs gRPC, which this build lacks (JUNCTION_SERVER=OFF)");
#endif
  } else {
    absl::StatusOr<std::unique_ptr<ChatBackend>> local = OpenLocalChatBackend(options);
    if (!local.ok()) return local.status();
    backend = std::move(*local);
  }
  return RunChatRepl(options, *backend);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace junction;
  auto options = cli::ParseCliOptions(argc, argv);
  if (!options.ok()) {
    if (absl::IsNotFound(options.status())) {
      std::cout << options.status().message();
      return 0;
    }
    std::fprintf(stderr, "junction-cli: error: %s\n(see junction-cli --help)\n",
                 std::string(options.status().message()).c_str());
    return 2;
  }
  if (options->tokenize_file || options->detokenize_file) {
    const bool detokenize = options->detokenize_file.has_value();
    return RunTokenizeCommand(options->tokenizer_dir,
                              detokenize ? *options->detokenize_file : *options->tokenize_file,
                              detokenize);
  }
  if (options->batch_file) {
    absl::Status status = cli::RunBatchCommand(*options);
    return status.ok() ? 0 : Fail(status);
  }
  if (options->chat || !options->server.empty()) {
    absl::Status status = RunChatOrRemote(*options);
    return status.ok() ? 0 : Fail(status);
  }
  absl::Status status =
      options->dump_logits ? cli::RunDumpLogitsCommand(*options) : cli::RunOneShotCommand(*options);
  return status.ok() ? 0 : Fail(status);
}
