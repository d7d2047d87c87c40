#include "server/text_generation.h"

#include "engine/common/status_macros.h"

namespace junction::server {

absl::StatusOr<std::unique_ptr<TextGeneration>> TextGeneration::Start(const ServedModel& model,
                                                                      GenerateRequest request,
                                                                      TextGenerationOptions options,
                                                                      ServerMetrics* metrics) {
  std::vector<std::string> stop = request.sampling.stop;
  ASSIGN_OR_RETURN(std::shared_ptr<RequestStream> stream, model.engine->Submit(std::move(request)));
  return std::unique_ptr<TextGeneration>(
      new TextGeneration(model, std::move(stream), std::move(stop), std::move(options), metrics));
}

TextGeneration::TextGeneration(const ServedModel& model, std::shared_ptr<RequestStream> stream,
                               std::vector<std::string> stop, TextGenerationOptions options,
                               ServerMetrics* metrics)
    : model_(model),
      stream_(std::move(stream)),
      decoder_(*model.tokenizer, std::move(stop), options.skip_special_tokens),
      options_(std::move(options)),
      metrics_(metrics),
      start_(std::chrono::steady_clock::now()) {}

TextGeneration::~TextGeneration() {
  if (!finished_) Cancel();
}

void TextGeneration::Cancel() {
  if (finished_) return;
  model_.engine->Cancel(stream_->id());
  Finish(FinishReason::kCancelled);
}

void TextGeneration::Finish(FinishReason reason) {
  finished_ = true;
  if (metrics_ != nullptr) metrics_->CountRequest(options_.door, FinishReasonName(reason));
}

void TextGeneration::ObserveLatency(const GenerationDelta& delta) {
  if (metrics_ == nullptr || delta.token_ids.empty()) return;
  const int n = static_cast<int>(delta.token_ids.size());
  if (num_tokens_ == 0) {
    metrics_->ObserveTimeToFirstToken(std::chrono::duration<double>(delta.time - start_).count());
    for (int i = 1; i < n; ++i) metrics_->ObserveInterTokenLatency(0.0);
  } else {
    // Tokens that arrive together share the gap since the previous delta.
    const double gap = std::chrono::duration<double>(delta.time - last_token_).count() / n;
    for (int i = 0; i < n; ++i) metrics_->ObserveInterTokenLatency(gap);
  }
  last_token_ = delta.time;
}

std::optional<TextEvent> TextGeneration::Next(std::chrono::steady_clock::time_point deadline) {
  if (finished_) return std::nullopt;
  std::optional<GenerationDelta> delta = stream_->Next(deadline);
  if (!delta) return std::nullopt;
  ObserveLatency(*delta);
  TextEvent event;
  event.usage = delta->usage;
  for (size_t i = 0; i < delta->token_ids.size(); ++i) {
    const TokenId id = delta->token_ids[i];
    // The token that ended the request by id (EOS, stop_token_ids) is counted but not shown,
    // as vLLM does: its text would leak the end-of-sequence marker into the answer.
    const bool stop_token = delta->finish == FinishReason::kStop && i + 1 == delta->token_ids.size();
    IncrementalDecoder::Piece piece = stop_token ? IncrementalDecoder::Piece{} : decoder_.Add(id);
    event.text += piece.text;
    event.token_ids.push_back(id);
    if (i < delta->logprobs.size()) event.logprobs.push_back(delta->logprobs[i]);
    ++num_tokens_;
    if (piece.stopped) {
      // The stop string is complete: free the engine's blocks now, not after max_tokens.
      model_.engine->Cancel(stream_->id());
      event.finish = FinishReason::kStop;
      event.usage.completion_tokens = num_tokens_;
      Finish(FinishReason::kStop);
      return event;
    }
  }
  if (delta->finish != FinishReason::kNone) {
    event.text += decoder_.Flush();
    event.finish = delta->finish;
    event.error = delta->error;
    Finish(delta->finish);
  }
  return event;
}

}  // namespace junction::server
