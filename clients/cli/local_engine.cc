#include "clients/cli/local_engine.h"

#include <filesystem>

#include "backends/cpu/cpu_backends.h"
#include "engine/common/status_macros.h"
#include "engine/model/model_config.h"

namespace junction::cli {

absl::StatusOr<LocalEngine> OpenLocalEngine(const CliOptions& options, bool require_tokenizer) {
  LocalEngine local;
  ASSIGN_OR_RETURN(local.spec, LoadModelSpec(options.model_dir));
  if (require_tokenizer ||
      std::filesystem::exists(std::filesystem::path(options.tokenizer_dir) / "tokenizer.json")) {
    ASSIGN_OR_RETURN(local.tokenizer, Tokenizer::Load(options.tokenizer_dir));
  }
  std::shared_ptr<const WeightStore> weights;
  {
    ASSIGN_OR_RETURN(std::unique_ptr<WeightStore> store, WeightStore::Open(options.model_dir));
    weights = std::move(store);
  }
  cpu::SetCpuThreads(options.num_threads);
  local.registry = std::make_unique<BackendRegistry>();
  cpu::RegisterCpuBackends(*local.registry);
  const BackendRegistry* registry = local.registry.get();
  const ModelSpec spec = local.spec;
  const std::string pinned = options.engine.attention_backend;
  RunnerFactory make_runner =
      [spec, weights, registry,
       pinned](const CacheGeometry& geometry) -> absl::StatusOr<std::unique_ptr<ModelRunner>> {
    cpu::CpuRunnerOptions runner_options;
    runner_options.cache = geometry;
    if (!pinned.empty()) runner_options.pinned[MixerKind::kAttention] = pinned;
    return cpu::CreateCpuModelRunner(spec, weights, *registry, runner_options);
  };
  DeviceInfo device;
  device.device_class = DeviceClass::kCpu;
  device.name = "cpu";
  ASSIGN_OR_RETURN(local.engine,
                   CreateEngine(local.spec, options.engine, device, *local.registry, make_runner));
  return local;
}

}  // namespace junction::cli
