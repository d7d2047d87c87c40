#include "clients/cli/chat_repl.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "backends/cpu/cpu_backends.h"
#include "clients/cli/local_engine.h"
#include "engine/common/status_macros.h"
#include "engine/model/model_config.h"
#include "engine/model/weight_store.h"
#include "engine/runtime/engine.h"
#include "engine/tokenizer/chat_template/chat_template.h"
#include "engine/tokenizer/incremental_decoder.h"
#include "engine/tokenizer/tokenizer.h"

namespace junction::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Set by SIGINT; read by the REPL loop and by the backends while they generate.
std::atomic<bool> g_interrupt{false};
static_assert(std::atomic<bool>::is_always_lock_free, "used from a signal handler");

// The self-pipe trick: the handler also writes a byte here, so a Ctrl-C that lands between
// printing the prompt and blocking on stdin still wakes the prompt's poll().
int g_interrupt_pipe[2] = {-1, -1};

void OnSigint(int) {
  g_interrupt.store(true);
  const char byte = 1;
  [[maybe_unused]] ssize_t n = write(g_interrupt_pipe[1], &byte, 1);
}

// Empties the self-pipe; returns whether it held anything.
bool DrainInterruptPipe() {
  char buffer[64];
  bool any = false;
  while (read(g_interrupt_pipe[0], buffer, sizeof(buffer)) > 0) any = true;
  return any;
}

// SIGINT without SA_RESTART, so blocked calls return EINTR.
absl::Status InstallSigintHandler() {
  if (g_interrupt_pipe[0] < 0 && pipe2(g_interrupt_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
    return absl::InternalError("cannot create the interrupt pipe");
  struct sigaction action = {};
  action.sa_handler = OnSigint;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  sigaction(SIGINT, &action, nullptr);
  return absl::OkStatus();
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string PlanText(const RequestPlan& plan) {
  std::string text;
  for (const LayerKindPlan& layer : plan.layers)
    absl::StrAppend(&text, text.empty() ? "" : ", ", layer.kind, "=", layer.backend);
  return text;
}

class LocalChatBackend final : public ChatBackend {
 public:
  absl::StatusOr<Answer> Generate(const std::string& prompt, const SamplingParams& sampling,
                                  const std::function<void(const std::string&)>& on_text,
                                  const std::atomic<bool>& interrupt) override {
    GenerateRequest request;
    request.prompt = local_.tokenizer->Encode(prompt, /*add_special_tokens=*/false);
    request.sampling = sampling;
    const Clock::time_point start = Clock::now();
    ASSIGN_OR_RETURN(std::shared_ptr<RequestStream> stream,
                     local_.engine->Submit(std::move(request)));
    IncrementalDecoder decoder(*local_.tokenizer, sampling.stop, /*skip_special_tokens=*/true);
    Answer answer;
    auto emit = [&](const std::string& text) {
      if (text.empty()) return;
      answer.text += text;
      on_text(text);
    };
    bool cancel_sent = false;
    for (;;) {
      if (interrupt.load() && !cancel_sent) {
        local_.engine->Cancel(stream->id());
        cancel_sent = true;
      }
      std::optional<GenerationDelta> delta =
          stream->Next(Clock::now() + std::chrono::milliseconds(50));
      if (!delta) continue;
      if (!delta->token_ids.empty() && answer.first_token_seconds == 0)
        answer.first_token_seconds = SecondsSince(start);
      for (TokenId id : delta->token_ids) {
        if (decoder.stopped()) break;
        IncrementalDecoder::Piece piece = decoder.Add(id);
        emit(piece.text);
        // A stop string ends the answer: the engine need not generate further.
        if (piece.stopped && !cancel_sent) {
          local_.engine->Cancel(stream->id());
          cancel_sent = true;
        }
      }
      answer.prompt_tokens = delta->usage.prompt_tokens;
      answer.completion_tokens = delta->usage.completion_tokens;
      if (delta->finish == FinishReason::kError) return delta->error;
      if (delta->finish != FinishReason::kNone) {
        answer.finish_reason = decoder.stopped() ? "stop" : FinishReasonName(delta->finish);
        break;
      }
    }
    emit(decoder.Flush());
    answer.total_seconds = SecondsSince(start);
    answer.plan = PlanText(stream->plan());
    return answer;
  }

  LocalEngine local_;
};

enum class LineStatus { kLine, kInterrupted, kEnd };

// Reads one line from stdin byte by byte (the terminal's line discipline does the editing).
// Returns kInterrupted when Ctrl-C comes first.
LineStatus ReadLine(std::string& line) {
  line.clear();
  for (;;) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {g_interrupt_pipe[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return LineStatus::kEnd;
    if (DrainInterruptPipe()) {
      g_interrupt.store(false);
      return LineStatus::kInterrupted;
    }
    if (fds[0].revents == 0) continue;
    char c;
    const ssize_t n = read(STDIN_FILENO, &c, 1);
    if (n == 1) {
      if (c == '\n') return LineStatus::kLine;
      line += c;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return line.empty() ? LineStatus::kEnd : LineStatus::kLine;
  }
}

void Print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void PrintAnswerStats(const ChatBackend::Answer& answer) {
  const double decode_seconds = answer.total_seconds - answer.first_token_seconds;
  const double tokens_per_second = answer.completion_tokens > 1 && decode_seconds > 0
                                       ? (answer.completion_tokens - 1) / decode_seconds
                                       : 0;
  std::fprintf(stderr,
               "[%d prompt tokens, %d generated at %.1f tok/s, first token after %.0f ms, "
               "finish %s; %s]\n",
               answer.prompt_tokens, answer.completion_tokens, tokens_per_second,
               answer.first_token_seconds * 1e3, answer.finish_reason.c_str(), answer.plan.c_str());
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChatBackend>> OpenLocalChatBackend(const CliOptions& options) {
  auto backend = std::make_unique<LocalChatBackend>();
  ASSIGN_OR_RETURN(backend->local_, OpenLocalEngine(options, /*require_tokenizer=*/true));
  return std::unique_ptr<ChatBackend>(std::move(backend));
}

absl::Status RunChatRepl(const CliOptions& options, ChatBackend& backend) {
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, Tokenizer::Load(options.tokenizer_dir));
  const ChatTemplate* chat_template = tokenizer->chat_template();
  if (chat_template == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("the tokenizer in ", options.tokenizer_dir, " has no chat template"));
  }
  RETURN_IF_ERROR(InstallSigintHandler());
  std::vector<ChatMessage> history;
  if (!options.system_prompt.empty()) history.push_back({"system", options.system_prompt, {}});
  const size_t base = history.size();
  Print("junction chat: /reset clears the history, /exit quits, Ctrl-C stops an answer\n");
  for (;;) {
    Print(">>> ");
    std::string line;
    const LineStatus status = ReadLine(line);
    if (status == LineStatus::kEnd) break;
    if (status == LineStatus::kInterrupted) {
      Print("\n");
      continue;
    }
    const std::string input(absl::StripAsciiWhitespace(line));
    if (input.empty()) continue;
    if (input == "/exit" || input == "/quit") break;
    if (input == "/reset") {
      history.resize(base);
      Print("[history cleared]\n");
      continue;
    }
    history.push_back({"user", input, {}});
    ASSIGN_OR_RETURN(std::string prompt,
                     chat_template->Render(ChatMessagesToJson(history),
                                           /*add_generation_prompt=*/true, nlohmann::ordered_json(),
                                           tokenizer->bos_token(), tokenizer->eos_token()));
    DrainInterruptPipe();
    g_interrupt.store(false);
    absl::StatusOr<ChatBackend::Answer> answer = backend.Generate(
        prompt, options.sampling, [](const std::string& text) { Print(text); }, g_interrupt);
    const bool interrupted = g_interrupt.exchange(false);
    DrainInterruptPipe();
    if (!answer.ok()) {
      history.pop_back();
      std::fprintf(stderr, "\n[error: %s]\n", std::string(answer.status().message()).c_str());
      continue;
    }
    Print(interrupted ? "\n[interrupted]\n" : "\n");
    history.push_back({"assistant", answer->text, {}});
    PrintAnswerStats(*answer);
  }
  Print("\n");
  return absl::OkStatus();
}

}  // namespace junction::cli
