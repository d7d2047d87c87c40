#include "clients/cli/one_shot_command.h"

#include <chrono>
#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "clients/cli/local_engine.h"
#include "engine/common/status_macros.h"
#include "engine/tokenizer/incremental_decoder.h"
#include "nlohmann/json.hpp"

namespace junction::cli {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// "attention=cpu.flash, mamba2=cpu.mamba2" and the same as a JSON object.
std::string PlanSummary(const RequestPlan& plan, nlohmann::json& backends) {
  std::string text = absl::StrCat("policy ", plan.attention_policy);
  for (const LayerKindPlan& layer : plan.layers) {
    backends[layer.kind] = layer.backend;
    absl::StrAppend(&text, ", ", layer.kind, "=", layer.backend);
  }
  return text;
}

}  // namespace

absl::Status RunOneShotCommand(const CliOptions& options) {
  ASSIGN_OR_RETURN(LocalEngine local, OpenLocalEngine(options, options.prompt.has_value()));
  GenerateRequest request;
  request.sampling = options.sampling;
  request.prompt = options.ids
                       ? *options.ids
                       : local.tokenizer->Encode(*options.prompt, /*add_special_tokens=*/true);
  const int prompt_tokens = static_cast<int>(request.prompt.size());
  const bool stream_text = options.format == "text" && local.tokenizer != nullptr;
  std::optional<IncrementalDecoder> decoder;
  if (local.tokenizer)
    decoder.emplace(*local.tokenizer, options.sampling.stop, /*skip_special_tokens=*/true);
  const Clock::time_point submitted = Clock::now();
  ASSIGN_OR_RETURN(std::shared_ptr<RequestStream> stream, local.engine->Submit(std::move(request)));
  std::vector<TokenId> ids;
  std::string text;
  GenerationDelta last;
  Clock::time_point first_token = submitted, last_token = submitted;
  while (std::optional<GenerationDelta> delta = stream->Next()) {
    for (TokenId id : delta->token_ids) {
      if (ids.empty()) first_token = delta->time;
      ids.push_back(id);
      if (!decoder) continue;
      IncrementalDecoder::Piece piece = decoder->Add(id);
      text += piece.text;
      if (stream_text) std::cout << piece.text << std::flush;
      if (piece.stopped) local.engine->Cancel(stream->id());
    }
    if (!delta->token_ids.empty()) last_token = delta->time;
    last = std::move(*delta);
  }
  if (decoder) {
    const std::string rest = decoder->Flush();
    text += rest;
    if (stream_text) std::cout << rest << "\n";
  }
  if (last.finish == FinishReason::kError) return last.error;
  const bool stopped_by_string = last.finish == FinishReason::kCancelled;
  const std::string finish = stopped_by_string ? "stop" : FinishReasonName(last.finish);
  const double prefill_seconds = Seconds(submitted, first_token);
  const double decode_seconds = Seconds(first_token, last_token);
  const double prompt_tps = prompt_tokens / std::max(prefill_seconds, 1e-9);
  const double decode_tps = ids.size() > 1 ? (ids.size() - 1) / std::max(decode_seconds, 1e-9) : 0;
  nlohmann::json backends = nlohmann::json::object();
  const std::string plan = PlanSummary(stream->plan(), backends);
  if (options.format == "json") {
    nlohmann::json out;
    out["ids"] = ids;
    if (local.tokenizer) out["text"] = text;
    out["prompt_tokens"] = prompt_tokens;
    out["finish_reason"] = finish;
    out["backends"] = backends;
    out["attention_policy"] = stream->plan().attention_policy;
    out["timings"] = {{"time_to_first_token_seconds", prefill_seconds},
                      {"decode_seconds", decode_seconds},
                      {"prompt_tokens_per_second", prompt_tps},
                      {"decode_tokens_per_second", decode_tps}};
    std::cout << out.dump() << "\n";
  } else if (!stream_text) {
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? "," : "") << ids[i];
    std::cout << "\n";
  }
  std::fprintf(stderr,
               "[%d prompt tokens at %.1f tok/s, %zu generated at %.1f tok/s, finish %s; %s]\n",
               prompt_tokens, prompt_tps, ids.size(), decode_tps, finish.c_str(), plan.c_str());
  return absl::OkStatus();
}

}  // namespace junction::cli
