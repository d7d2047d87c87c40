#include "clients/cli/batch_command.h"

#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "clients/cli/local_engine.h"
#include "engine/common/status_macros.h"
#include "engine/model/model_config.h"
#include "engine/runtime/engine.h"
#include "nlohmann/json.hpp"

namespace junction::cli {
namespace {

struct BatchLine {
  int line_number = 0;
  GenerateRequest request;
};

absl::StatusOr<GenerateRequest> ParseLine(const std::string& text, const CliOptions& options,
                                          const Tokenizer* tokenizer) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return absl::InvalidArgumentError("not a JSON object");
  GenerateRequest request;
  request.sampling = options.sampling;
  if (j.contains("prompt")) {
    if (!j["prompt"].is_string() || j["prompt"].get<std::string>().empty())
      return absl::InvalidArgumentError("\"prompt\" must be a non-empty string");
    if (tokenizer == nullptr)
      return absl::FailedPreconditionError(
          "text prompts need a tokenizer.json in the model (or --tokenizer) directory; give "
          "\"ids\"");
    request.prompt = tokenizer->Encode(j["prompt"].get<std::string>(), /*add_special_tokens=*/true);
  } else {
    if (!j.contains("ids") || !j["ids"].is_array() || j["ids"].empty())
      return absl::InvalidArgumentError("needs \"ids\": a non-empty array of token ids");
    for (const nlohmann::json& id : j["ids"]) {
      if (!id.is_number_integer()) return absl::InvalidArgumentError("\"ids\" must be integers");
      request.prompt.push_back(id.get<TokenId>());
    }
  }
  if (j.contains("max_tokens")) {
    if (!j["max_tokens"].is_number_integer())
      return absl::InvalidArgumentError("\"max_tokens\" must be an integer");
    request.sampling.max_tokens = j["max_tokens"].get<int>();
  }
  if (j.contains("temperature")) {
    if (!j["temperature"].is_number())
      return absl::InvalidArgumentError("\"temperature\" must be a number");
    request.sampling.temperature = j["temperature"].get<float>();
  }
  if (j.contains("seed")) {
    if (!j["seed"].is_number_unsigned())
      return absl::InvalidArgumentError("\"seed\" must be a non-negative integer");
    request.sampling.seed = j["seed"].get<uint64_t>();
  }
  RETURN_IF_ERROR(request.sampling.Validate());
  return request;
}

absl::StatusOr<std::vector<BatchLine>> ReadBatchFile(const CliOptions& options,
                                                     const Tokenizer* tokenizer) {
  std::ifstream in(*options.batch_file);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", *options.batch_file));
  std::vector<BatchLine> lines;
  std::string text;
  for (int number = 1; std::getline(in, text); ++number) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    absl::StatusOr<GenerateRequest> request = ParseLine(text, options, tokenizer);
    if (!request.ok())
      return absl::Status(request.status().code(), absl::StrCat(*options.batch_file, ":", number,
                                                                ": ", request.status().message()));
    lines.push_back({number, std::move(*request)});
  }
  if (lines.empty()) return absl::InvalidArgumentError(*options.batch_file + " has no requests");
  return lines;
}

nlohmann::json PlanJson(const RequestPlan& plan) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerKindPlan& l : plan.layers)
    layers.push_back({{"kind", l.kind}, {"backend", l.backend}, {"rejected", l.rejected}});
  return {{"attention_policy", plan.attention_policy},
          {"policy_reason", plan.policy_reason},
          {"layers", layers}};
}

}  // namespace

absl::Status RunBatchCommand(const CliOptions& options) {
  ASSIGN_OR_RETURN(LocalEngine local, OpenLocalEngine(options, /*require_tokenizer=*/false));
  ASSIGN_OR_RETURN(std::vector<BatchLine> lines, ReadBatchFile(options, local.tokenizer.get()));
  EngineApi* engine = local.engine.get();
  // Everything is submitted before anything is read: the lines run concurrently.
  std::vector<absl::StatusOr<std::shared_ptr<RequestStream>>> streams;
  for (BatchLine& line : lines) streams.push_back(engine->Submit(std::move(line.request)));
  int failed = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    nlohmann::json out;
    out["line"] = lines[i].line_number;
    if (!streams[i].ok()) {
      out["error"] = std::string(streams[i].status().message());
      ++failed;
      std::cout << out.dump() << "\n";
      continue;
    }
    RequestStream& stream = **streams[i];
    std::vector<TokenId> ids;
    GenerationDelta last;
    while (std::optional<GenerationDelta> delta = stream.Next()) {
      ids.insert(ids.end(), delta->token_ids.begin(), delta->token_ids.end());
      last = std::move(*delta);
    }
    out["ids"] = ids;
    if (local.tokenizer) out["text"] = local.tokenizer->Decode(ids, /*skip_special_tokens=*/true);
    out["finish_reason"] = FinishReasonName(last.finish);
    out["usage"] = {{"prompt_tokens", last.usage.prompt_tokens},
                    {"completion_tokens", last.usage.completion_tokens},
                    {"cached_prompt_tokens", last.usage.cached_prompt_tokens}};
    out["plan"] = PlanJson(stream.plan());
    if (last.finish == FinishReason::kError) {
      out["error"] = std::string(last.error.message());
      ++failed;
    }
    std::cout << out.dump() << "\n";
  }
  std::cout.flush();
  if (failed > 0)
    return absl::InternalError(absl::StrCat(failed, " of ", lines.size(), " requests failed"));
  return absl::OkStatus();
}

}  // namespace junction::cli
