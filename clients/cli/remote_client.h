// junction-cli --server HOST:PORT: generation on a junction-server over gRPC
// (junction.v1.Generation/Generate, server-streaming). Built only with JUNCTION_SERVER.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "clients/cli/chat_repl.h"
#include "clients/cli/cli_options.h"

namespace junction::cli {

// One-shot: sends --prompt (text, special tokens added by the server) or --ids, streams the
// text to stdout as it arrives, then prints token counts, speed and the server's backend plan
// (stderr; with --format json one JSON object on stdout instead). Errors: Unavailable when the
// server cannot be reached in 10 s, the gRPC status of the call otherwise.
absl::Status RunRemotePrompt(const CliOptions& options);

// The REPL's backend on the server at options.server: the rendered chat is sent as text without
// added special tokens. Errors: Unavailable when the server cannot be reached in 10 s.
absl::StatusOr<std::unique_ptr<ChatBackend>> OpenRemoteChatBackend(const CliOptions& options);

}  // namespace junction::cli
