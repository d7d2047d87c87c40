#include "clients/cli/dump_logits_command.h"

#include "backends/cpu/cpu_backends.h"
#include "backends/loader/served_model.h"
#include "engine/common/status_macros.h"
#include "engine/generation/sequential_generator.h"
#include "engine/model/model_config.h"
#include "engine/model/safetensors.h"
#include "engine/tokenizer/tokenizer.h"

namespace junction::cli {

// Runs straight through a model runner of the chosen device (SequentialGenerator), not the
// engine: every position's logits are wanted, which the serving engine never produces.
absl::Status RunDumpLogitsCommand(const CliOptions& options) {
  ASSIGN_OR_RETURN(ModelSpec spec, LoadModelSpec(options.model_dir));
  std::vector<TokenId> prompt;
  if (options.ids) {
    prompt = *options.ids;
  } else {
    ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, Tokenizer::Load(options.tokenizer_dir));
    prompt = tokenizer->Encode(*options.prompt, /*add_special_tokens=*/true);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<WeightStore> weights, WeightStore::Open(options.model_dir));
  cpu::SetCpuThreads(options.num_threads);
  ASSIGN_OR_RETURN(DeviceChoice device, ChooseDevice(options.device));
  BackendRegistry registry;
  ASSIGN_OR_RETURN(RunnerFactory make_runner,
                   MakeRunnerFactory(spec, std::move(weights), device.device, registry,
                                     options.engine.attention_backend));
  CacheGeometry cache;
  cache.num_blocks = static_cast<int>(prompt.size() + cache.block_size - 1) / cache.block_size + 1;
  cache.num_state_slots = 1;
  ASSIGN_OR_RETURN(std::unique_ptr<ModelRunner> runner, make_runner(cache));
  SequentialGenerator generator(*runner);
  SequentialOptions sequential;
  sequential.prefill_chunk = options.prefill_chunk;
  ASSIGN_OR_RETURN(std::vector<float> logits, generator.PromptLogits(prompt, sequential));
  return WriteSafetensorsF32(
      *options.dump_logits,
      {{"logits", {static_cast<int64_t>(prompt.size()), spec.vocab_size}, logits.data()}});
}

}  // namespace junction::cli
