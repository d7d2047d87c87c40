#include "clients/cli/chat_repl.h"

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

void OnSigint(int) { g_interrupt.store(true); }

// SIGINT without SA_RESTART: a blocked read() returns EINTR, so Ctrl-C reaches the loop.
void InstallSigintHandler() {
  struct sigaction action = {};
  action.sa_handler = OnSigint;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  sigaction(SIGINT, &action, nullptr);
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
    request.prompt = tokenizer_->Encode(prompt, /*add_special_tokens=*/false);
    request.sampling = sampling;
    const Clock::time_point start = Clock::now();
    ASSIGN_OR_RETURN(std::shared_ptr<RequestStream> stream, engine_->Submit(std::move(request)));
    IncrementalDecoder decoder(*tokenizer_, sampling.stop, /*skip_special_tokens=*/true);
    Answer answer;
    auto emit = [&](const std::string& text) {
      if (text.empty()) return;
      answer.text += text;
      on_text(text);
    };
    bool cancel_sent = false;
    for (;;) {
      if (interrupt.load() && !cancel_sent) {
        engine_->Cancel(stream->id());
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
          engine_->Cancel(stream->id());
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

  std::unique_ptr<Tokenizer> tokenizer_;
  ModelSpec spec_;
  // Declared before the engine: the engine's runner holds references into the registry.
  std::unique_ptr<BackendRegistry> registry_;
  std::unique_ptr<EngineApi> engine_;
};

enum class LineStatus { kLine, kInterrupted, kEnd };

// Reads one line from stdin byte by byte (the terminal's line discipline does the editing).
LineStatus ReadLine(std::string& line) {
  line.clear();
  for (;;) {
    char c;
    const ssize_t n = read(STDIN_FILENO, &c, 1);
    if (n == 1) {
      if (c == '\n') return LineStatus::kLine;
      line += c;
      continue;
    }
    if (n < 0 && errno == EINTR) {
      if (g_interrupt.exchange(false)) return LineStatus::kInterrupted;
      continue;
    }
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
  ASSIGN_OR_RETURN(backend->tokenizer_, Tokenizer::Load(options.tokenizer_dir));
  ASSIGN_OR_RETURN(backend->spec_, LoadModelSpec(options.model_dir));
  std::shared_ptr<const WeightStore> weights;
  {
    ASSIGN_OR_RETURN(std::unique_ptr<WeightStore> store, WeightStore::Open(options.model_dir));
    weights = std::move(store);
  }
  cpu::SetCpuThreads(options.num_threads);
  backend->registry_ = std::make_unique<BackendRegistry>();
  cpu::RegisterCpuBackends(*backend->registry_);
  const BackendRegistry* registry = backend->registry_.get();
  const ModelSpec spec = backend->spec_;
  RunnerFactory make_runner =
      [spec, weights,
       registry](const CacheGeometry& geometry) -> absl::StatusOr<std::unique_ptr<ModelRunner>> {
    cpu::CpuRunnerOptions runner_options;
    runner_options.cache = geometry;
    return cpu::CreateCpuModelRunner(spec, weights, *registry, runner_options);
  };
  DeviceInfo device;
  device.device_class = DeviceClass::kCpu;
  device.name = "cpu";
  ASSIGN_OR_RETURN(backend->engine_,
                   CreateEngine(spec, options.engine, device, *backend->registry_, make_runner));
  return std::unique_ptr<ChatBackend>(std::move(backend));
}

absl::Status RunChatRepl(const CliOptions& options, ChatBackend& backend) {
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, Tokenizer::Load(options.tokenizer_dir));
  const ChatTemplate* chat_template = tokenizer->chat_template();
  if (chat_template == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("the tokenizer in ", options.tokenizer_dir, " has no chat template"));
  }
  InstallSigintHandler();
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
    g_interrupt.store(false);
    absl::StatusOr<ChatBackend::Answer> answer = backend.Generate(
        prompt, options.sampling, [](const std::string& text) { Print(text); }, g_interrupt);
    const bool interrupted = g_interrupt.exchange(false);
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
