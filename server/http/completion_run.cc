#include "server/http/completion_run.h"

#include "absl/strings/str_cat.h"
#include "server/http/api_error.h"

namespace junction::server {

CompletionRun::CompletionRun(ServingState& state, const ServedModel& model,
                             const CompletionRequest& request)
    : in_flight_(state),
      model_(model),
      header_(
          MakeResponseHeader(request.chat, model.id, request.top_logprobs, request.want_logprobs)),
      include_usage_(request.include_usage) {}

absl::StatusOr<std::unique_ptr<CompletionRun>> CompletionRun::Start(
    ServingState& state, const ServedModel& model, const CompletionRequest& request) {
  std::unique_ptr<CompletionRun> run(new CompletionRun(state, model, request));
  for (size_t p = 0; p < request.prompts.size(); ++p) {
    for (int k = 0; k < request.n; ++k) {
      GenerateRequest engine_request;
      engine_request.prompt = request.prompts[p];
      engine_request.sampling = request.sampling;
      // Choices of one prompt must differ: derive their seeds from the request's.
      if (request.sampling.seed && k > 0) *engine_request.sampling.seed += k;
      engine_request.priority = request.priority;
      TextGenerationOptions options;
      options.skip_special_tokens = request.skip_special_tokens;
      options.door = "http";
      absl::StatusOr<std::unique_ptr<TextGeneration>> generation =
          TextGeneration::Start(model, std::move(engine_request), options, &state.metrics());
      // Returning drops `run`, which cancels the choices already submitted.
      if (!generation.ok()) return generation.status();
      Choice choice;
      choice.generation = std::move(*generation);
      choice.prompt_index = static_cast<int>(p);
      run->choices_.push_back(std::move(choice));
    }
  }
  return run;
}

void CompletionRun::Cancel() {
  for (Choice& choice : choices_) choice.generation->Cancel();
}

Usage CompletionRun::TotalUsage() const {
  Usage total;
  int last_prompt = -1;
  for (const Choice& choice : choices_) {
    // Each prompt is counted once, however many choices it has (as OpenAI does).
    if (choice.prompt_index != last_prompt) {
      total.prompt_tokens += choice.usage.prompt_tokens;
      total.cached_prompt_tokens += choice.usage.cached_prompt_tokens;
      last_prompt = choice.prompt_index;
    }
    total.completion_tokens += choice.usage.completion_tokens;
  }
  return total;
}

absl::StatusOr<nlohmann::json> CompletionRun::Collect() {
  std::vector<ChoiceOutput> outputs(choices_.size());
  for (size_t i = 0; i < choices_.size(); ++i) {
    outputs[i].index = static_cast<int>(i);
    while (std::optional<TextEvent> event = choices_[i].generation->Next()) {
      outputs[i].text += event->text;
      outputs[i].logprobs.insert(outputs[i].logprobs.end(), event->logprobs.begin(),
                                 event->logprobs.end());
      choices_[i].usage = event->usage;
      if (event->finish == FinishReason::kError) return event->error;
      if (event->finish == FinishReason::kCancelled) {
        return absl::UnavailableError("the request was cancelled by the server");
      }
      if (event->finish != FinishReason::kNone) {
        outputs[i].finish_reason = OpenAiFinishReason(event->finish);
      }
    }
  }
  done_ = true;
  return FullResponse(header_, outputs, TotalUsage(), *model_.tokenizer);
}

void CompletionRun::AppendEvent(Choice& choice, int index, const TextEvent& event,
                                std::string& out) {
  choice.usage = event.usage;
  if (event.finish == FinishReason::kError) {
    ApiError error{event.error.ok() ? absl::InternalError("generation failed") : event.error};
    out += "data: " + error.Body() + "\n\n";
    return;
  }
  ChoiceOutput output;
  output.index = index;
  output.text = event.text;
  output.logprobs = event.logprobs;
  output.finish_reason = OpenAiFinishReason(event.finish);
  if (output.text.empty() && output.logprobs.empty() && output.finish_reason == nullptr) return;
  out += SseEvent(ChunkJson(header_, output, *model_.tokenizer, include_usage_));
}

bool CompletionRun::NextSseEvents(std::chrono::milliseconds wait, std::string& out) {
  if (done_) return false;
  // Chat streams open every choice with a chunk that carries the role.
  for (size_t i = 0; i < choices_.size(); ++i) {
    if (header_.chat && !choices_[i].sent_first) {
      ChoiceOutput first;
      first.index = static_cast<int>(i);
      first.first = true;
      out += SseEvent(ChunkJson(header_, first, *model_.tokenizer, include_usage_));
    }
    choices_[i].sent_first = true;
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  bool any_event = false;
  while (!any_event) {
    bool all_finished = true;
    // Poll every unfinished choice; block briefly on the first when none had anything.
    for (size_t i = 0; i < choices_.size(); ++i) {
      TextGeneration& generation = *choices_[i].generation;
      if (generation.finished()) continue;
      all_finished = false;
      const auto poll_until =
          choices_.size() == 1 ? deadline : std::chrono::steady_clock::time_point::min();
      if (std::optional<TextEvent> event = generation.Next(poll_until)) {
        AppendEvent(choices_[i], static_cast<int>(i), *event, out);
        any_event = true;
      }
    }
    if (all_finished) {
      if (include_usage_) out += SseEvent(UsageChunkJson(header_, TotalUsage()));
      out += kSseDone;
      done_ = true;
      return false;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    if (!any_event && choices_.size() > 1) {
      for (Choice& choice : choices_) {
        if (choice.generation->finished()) continue;
        const auto until =
            std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(2));
        if (std::optional<TextEvent> event = choice.generation->Next(until)) {
          AppendEvent(choice, static_cast<int>(&choice - choices_.data()), *event, out);
          any_event = true;
        }
        break;
      }
    }
  }
  return true;
}

}  // namespace junction::server
