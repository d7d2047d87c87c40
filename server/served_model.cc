#include "server/served_model.h"

#include "absl/strings/str_cat.h"
#include "backends/cpu/cpu_backends.h"
#include "engine/common/status_macros.h"
#include "engine/model/model_config.h"
#include "engine/model/weight_store.h"

namespace junction {

absl::StatusOr<ServedModel> LoadServedModel(const std::string& dir, const EngineConfig& config,
                                            const std::string& id) {
  ServedModel model;
  model.id = id.empty() ? dir : id;
  ASSIGN_OR_RETURN(model.spec, LoadModelSpec(dir));
  model.architecture = model.spec.architecture;
  std::shared_ptr<const WeightStore> weights;
  {
    ASSIGN_OR_RETURN(std::unique_ptr<WeightStore> store, WeightStore::Open(dir));
    weights = std::move(store);
  }
  {
    auto tokenizer = Tokenizer::Load(dir);
    if (!tokenizer.ok()) {
      return absl::Status(tokenizer.status().code(),
                          absl::StrCat("tokenizer of ", dir, ": ", tokenizer.status().message()));
    }
    model.tokenizer = std::move(*tokenizer);
  }
  model.registry = std::make_unique<BackendRegistry>();
  cpu::RegisterCpuBackends(*model.registry);

  const BackendRegistry* registry = model.registry.get();
  const ModelSpec spec = model.spec;
  const std::string pinned_attention = config.attention_backend;
  RunnerFactory make_runner =
      [spec, weights, registry, pinned_attention](
          const CacheGeometry& geometry) -> absl::StatusOr<std::unique_ptr<ModelRunner>> {
    cpu::CpuRunnerOptions options;
    options.cache = geometry;
    if (!pinned_attention.empty()) options.pinned[MixerKind::kAttention] = pinned_attention;
    return cpu::CreateCpuModelRunner(spec, weights, *registry, options);
  };
  DeviceInfo device;
  device.device_class = DeviceClass::kCpu;
  device.name = "cpu";
  ASSIGN_OR_RETURN(model.engine,
                   CreateEngine(model.spec, config, device, *model.registry, make_runner));
  return model;
}

}  // namespace junction
