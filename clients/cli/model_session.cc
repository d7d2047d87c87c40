#include "clients/cli/model_session.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "backends/cpu/cpu_backends.h"
#include "clients/cli/tokenize_command.h"
#include "engine/common/status_macros.h"
#include "engine/generation/sequential_generator.h"
#include "engine/model/model_config.h"
#include "engine/model/safetensors.h"
#include "nlohmann/json.hpp"

namespace junction::cli {
namespace {

std::string KindsToBackends(const std::vector<LayerBackend>& layers, nlohmann::json& out) {
  std::string text;
  for (const LayerBackend& l : layers) {
    const std::string kind(MixerKindName(l.kind));
    if (!out.contains(kind)) {
      out[kind] = l.backend;
      absl::StrAppend(&text, text.empty() ? "" : ", ", kind, "=", l.backend);
    }
  }
  return text;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelSession>> ModelSession::Open(const CliOptions& options) {
  auto session = std::make_unique<ModelSession>();
  ASSIGN_OR_RETURN(session->spec_, LoadModelSpec(options.model_dir));
  ASSIGN_OR_RETURN(auto weights, WeightStore::Open(options.model_dir));
  cpu::SetCpuThreads(options.num_threads);
  cpu::RegisterCpuBackends(session->registry_);
  // Size the cache for this one request: prompt + generated tokens (ids are known up front;
  // text prompts are bounded by the model context).
  int64_t tokens = session->spec_.max_context;
  if (options.ids) tokens = static_cast<int64_t>(options.ids->size()) + options.sampling.max_tokens;
  cpu::CpuRunnerOptions runner_options;
  runner_options.cache.block_size = 16;
  runner_options.cache.num_blocks = static_cast<int>((tokens + 15) / 16) + 1;
  runner_options.cache.num_state_slots = 1;
  ASSIGN_OR_RETURN(session->runner_,
                   cpu::CreateCpuModelRunner(session->spec_, std::move(weights),
                                             session->registry_, runner_options));
  return session;
}

absl::StatusOr<std::vector<TokenId>> ModelSession::PromptIds(const CliOptions& options) const {
  if (options.ids) return *options.ids;
  return absl::UnimplementedError("--prompt needs the tokenizer, which this build lacks; use --ids");
}

absl::Status ModelSession::RunOne(const CliOptions& options) {
  ASSIGN_OR_RETURN(std::vector<TokenId> prompt, PromptIds(options));
  SequentialGenerator generator(*runner_);
  SequentialOptions seq;
  seq.prefill_chunk = options.prefill_chunk;
  ASSIGN_OR_RETURN(SequentialResult result, generator.Generate(prompt, options.sampling, seq));
  nlohmann::json backends = nlohmann::json::object();
  const std::string plan = KindsToBackends(runner_->layer_backends(), backends);
  const double prefill_tps = prompt.size() / std::max(result.prefill_seconds, 1e-9);
  const double decode_tps =
      result.ids.size() > 1 ? (result.ids.size() - 1) / std::max(result.decode_seconds, 1e-9) : 0;
  if (options.format == "json") {
    nlohmann::json out;
    out["ids"] = result.ids;
    out["prompt_tokens"] = prompt.size();
    out["finish_reason"] = result.stopped_by_eos ? "stop" : "length";
    out["backends"] = backends;
    out["timings"] = {{"prefill_seconds", result.prefill_seconds},
                      {"decode_seconds", result.decode_seconds},
                      {"prompt_tokens_per_second", prefill_tps},
                      {"decode_tokens_per_second", decode_tps}};
    std::cout << out.dump() << "\n";
  } else {
    for (size_t i = 0; i < result.ids.size(); ++i) std::cout << (i ? "," : "") << result.ids[i];
    std::cout << "\n";
    std::fprintf(stderr, "[%zu prompt tokens at %.1f tok/s, %zu generated at %.1f tok/s; %s]\n",
                 prompt.size(), prefill_tps, result.ids.size(), decode_tps, plan.c_str());
  }
  return absl::OkStatus();
}

absl::Status ModelSession::DumpLogits(const CliOptions& options) {
  ASSIGN_OR_RETURN(std::vector<TokenId> prompt, PromptIds(options));
  SequentialGenerator generator(*runner_);
  SequentialOptions seq;
  seq.prefill_chunk = options.prefill_chunk;
  ASSIGN_OR_RETURN(std::vector<float> logits, generator.PromptLogits(prompt, seq));
  return WriteSafetensorsF32(
      *options.dump_logits,
      {{"logits", {static_cast<int64_t>(prompt.size()), spec_.vocab_size}, logits.data()}});
}

int RunTokenizerTool(const CliOptions& options) {
  const bool detokenize = options.detokenize_file.has_value();
  return RunTokenizeCommand(options.tokenizer_dir,
                            detokenize ? *options.detokenize_file : *options.tokenize_file,
                            detokenize);
}

}  // namespace junction::cli
