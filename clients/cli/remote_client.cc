#include "clients/cli/remote_client.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "junction/v1/generation.grpc.pb.h"
#include "nlohmann/json.hpp"

namespace junction::cli {
namespace {

using Clock = std::chrono::steady_clock;

void ToProto(const SamplingParams& s, v1::SamplingParams& out) {
  out.set_temperature(s.temperature);
  out.set_top_p(s.top_p);
  out.set_top_k(s.top_k);
  out.set_min_p(s.min_p);
  if (s.seed) out.set_seed(*s.seed);
  out.set_repetition_penalty(s.repetition_penalty);
  out.set_presence_penalty(s.presence_penalty);
  out.set_frequency_penalty(s.frequency_penalty);
  out.set_max_tokens(s.max_tokens);
  for (const std::string& stop : s.stop) out.add_stop(stop);
  for (TokenId id : s.stop_token_ids) out.add_stop_token_ids(id);
  out.set_ignore_eos(s.ignore_eos);
}

std::string PlanText(const v1::BackendPlan& plan) {
  std::string text;
  for (const v1::LayerKindPlan& layer : plan.layers())
    absl::StrAppend(&text, text.empty() ? "" : ", ", layer.kind(), "=", layer.backend());
  return text;
}

// A connection to one junction-server.
class RemoteSession {
 public:
  static absl::StatusOr<std::unique_ptr<RemoteSession>> Connect(const std::string& address) {
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10)))
      return absl::UnavailableError(absl::StrCat("cannot reach junction-server at ", address));
    return std::unique_ptr<RemoteSession>(new RemoteSession(v1::Generation::NewStub(channel)));
  }

  // Streams one Generate call; `interrupt` (may be null) cancels it.
  absl::StatusOr<ChatBackend::Answer> Generate(
      const v1::GenerateRequest& request, const std::function<void(const std::string&)>& on_text,
      const std::atomic<bool>* interrupt, std::vector<TokenId>* ids) {
    grpc::ClientContext context;
    std::atomic<bool> done{false};
    // Read() blocks: a watcher turns the interrupt flag into a cancellation of the call.
    std::thread watcher([&] {
      while (!done.load()) {
        if (interrupt != nullptr && interrupt->load()) {
          context.TryCancel();
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
    const Clock::time_point start = Clock::now();
    ChatBackend::Answer answer;
    std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader =
        stub_->Generate(&context, request);
    v1::GenerateResponse response;
    while (reader->Read(&response)) {
      if (response.has_delta()) {
        const v1::TokenDelta& delta = response.delta();
        if (delta.token_ids_size() > 0 && answer.first_token_seconds == 0)
          answer.first_token_seconds = std::chrono::duration<double>(Clock::now() - start).count();
        if (ids != nullptr)
          ids->insert(ids->end(), delta.token_ids().begin(), delta.token_ids().end());
        if (!delta.text().empty()) {
          answer.text += delta.text();
          on_text(delta.text());
        }
      } else if (response.has_result()) {
        answer.finish_reason = response.result().finish_reason();
        answer.prompt_tokens = response.result().usage().prompt_tokens();
        answer.completion_tokens = response.result().usage().completion_tokens();
        answer.plan = PlanText(response.result().plan());
      }
    }
    const grpc::Status status = reader->Finish();
    done.store(true);
    watcher.join();
    answer.total_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (status.error_code() == grpc::StatusCode::CANCELLED && interrupt != nullptr &&
        interrupt->load()) {
      answer.finish_reason = "cancelled";
      return answer;
    }
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          absl::StrCat("junction-server: ", status.error_message()));
    }
    return answer;
  }

 private:
  explicit RemoteSession(std::unique_ptr<v1::Generation::Stub> stub) : stub_(std::move(stub)) {}
  std::unique_ptr<v1::Generation::Stub> stub_;
};

class RemoteChatBackend final : public ChatBackend {
 public:
  explicit RemoteChatBackend(std::unique_ptr<RemoteSession> session)
      : session_(std::move(session)) {}

  absl::StatusOr<Answer> Generate(const std::string& prompt, const SamplingParams& sampling,
                                  const std::function<void(const std::string&)>& on_text,
                                  const std::atomic<bool>& interrupt) override {
    v1::GenerateRequest request;
    request.set_text(prompt);
    request.set_add_special_tokens(false);  // the chat template wrote them
    request.set_skip_special_tokens(true);
    ToProto(sampling, *request.mutable_sampling());
    return session_->Generate(request, on_text, &interrupt, nullptr);
  }

 private:
  std::unique_ptr<RemoteSession> session_;
};

}  // namespace

absl::Status RunRemotePrompt(const CliOptions& options) {
  absl::StatusOr<std::unique_ptr<RemoteSession>> session = RemoteSession::Connect(options.server);
  if (!session.ok()) return session.status();
  v1::GenerateRequest request;
  if (options.ids) {
    for (TokenId id : *options.ids) request.mutable_token_ids()->add_ids(id);
  } else {
    request.set_text(*options.prompt);
  }
  ToProto(options.sampling, *request.mutable_sampling());
  const bool json = options.format == "json";
  std::vector<TokenId> ids;
  auto on_text = [json](const std::string& text) {
    if (json) return;
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  };
  absl::StatusOr<ChatBackend::Answer> answer =
      (*session)->Generate(request, on_text, nullptr, &ids);
  if (!answer.ok()) return answer.status();
  const double decode_seconds = answer->total_seconds - answer->first_token_seconds;
  const double decode_tps = answer->completion_tokens > 1 && decode_seconds > 0
                                ? (answer->completion_tokens - 1) / decode_seconds
                                : 0;
  if (json) {
    nlohmann::json out = {{"text", answer->text},
                          {"ids", ids},
                          {"prompt_tokens", answer->prompt_tokens},
                          {"completion_tokens", answer->completion_tokens},
                          {"finish_reason", answer->finish_reason},
                          {"plan", answer->plan},
                          {"timings",
                           {{"first_token_seconds", answer->first_token_seconds},
                            {"total_seconds", answer->total_seconds},
                            {"decode_tokens_per_second", decode_tps}}}};
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return absl::OkStatus();
  }
  std::printf("\n");
  std::fprintf(stderr,
               "[%d prompt tokens, %d generated at %.1f tok/s, first token after %.0f ms, "
               "finish %s; %s]\n",
               answer->prompt_tokens, answer->completion_tokens, decode_tps,
               answer->first_token_seconds * 1e3, answer->finish_reason.c_str(),
               answer->plan.c_str());
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ChatBackend>> OpenRemoteChatBackend(const CliOptions& options) {
  absl::StatusOr<std::unique_ptr<RemoteSession>> session = RemoteSession::Connect(options.server);
  if (!session.ok()) return session.status();
  return std::unique_ptr<ChatBackend>(new RemoteChatBackend(std::move(*session)));
}

}  // namespace junction::cli
