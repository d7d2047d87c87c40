// junction-cli --chat: an interactive chat REPL over the model's chat template. Each turn
// renders the whole history with the template, streams the answer as it is generated and
// prints its token counts and speed. Commands: /reset (forget the history), /exit (or Ctrl-D).
// Ctrl-C during an answer cancels the request and returns to the prompt; at the prompt it
// discards the line. Generation runs in-process (an engine on the CPU backend) or, with
// --server, on a junction-server over gRPC; the chat template always comes from the local
// tokenizer directory (--tokenizer, defaulting to --model).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "clients/cli/cli_options.h"
#include "engine/sampling/sampling_params.h"

namespace junction::cli {

// Where the REPL's answers come from.
class ChatBackend {
 public:
  struct Answer {
    std::string text;  // everything passed to on_text
    int prompt_tokens = 0;
    int completion_tokens = 0;
    std::string finish_reason;       // "stop", "length", "cancelled"
    double first_token_seconds = 0;  // send -> first token
    double total_seconds = 0;
    std::string plan;  // the backends that served the request, e.g. "attention=cpu.flash"
  };
  virtual ~ChatBackend() = default;
  // Generates a continuation of `prompt` (the rendered chat, already containing any special
  // tokens: it is tokenized without adding more) and passes each new piece of text to
  // `on_text` as it arrives. When `interrupt` turns true the request is cancelled and the
  // answer so far returned with finish_reason "cancelled". Errors: the engine's or server's.
  virtual absl::StatusOr<Answer> Generate(const std::string& prompt, const SamplingParams& sampling,
                                          const std::function<void(const std::string&)>& on_text,
                                          const std::atomic<bool>& interrupt) = 0;
};

// Loads the model in --model into an in-process engine.
absl::StatusOr<std::unique_ptr<ChatBackend>> OpenLocalChatBackend(const CliOptions& options);

// Runs the REPL on stdin/stdout until /exit or end of input. Errors: the tokenizer or chat
// template cannot be loaded (before the first prompt).
absl::Status RunChatRepl(const CliOptions& options, ChatBackend& backend);

}  // namespace junction::cli
