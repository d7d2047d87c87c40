#include "tests/support/cpu_engine.h"

#include <catch2/catch.hpp>

#include "backends/cpu/cpu_backends.h"
#include "engine/model/model_config.h"

namespace junction::testing {

CpuEngine MakeCpuEngine(const std::string& model_dir, const EngineConfig& config) {
  CpuEngine out;
  out.registry = std::make_unique<BackendRegistry>();
  cpu::RegisterCpuBackends(*out.registry);
  auto spec = LoadModelSpec(model_dir);
  REQUIRE(spec.ok());
  out.spec = *spec;
  auto weights = WeightStore::Open(model_dir);
  REQUIRE(weights.ok());
  std::shared_ptr<const WeightStore> shared(std::move(*weights));
  DeviceInfo device;
  device.name = "cpu";
  const BackendRegistry& registry = *out.registry;
  auto engine =
      CreateEngine(out.spec, config, device, registry, [&, shared](const CacheGeometry& geometry) {
        cpu::CpuRunnerOptions options;
        options.cache = geometry;
        return cpu::CreateCpuModelRunner(out.spec, shared, registry, options);
      });
  INFO(engine.status().ToString());
  REQUIRE(engine.ok());
  out.engine = std::move(*engine);
  return out;
}

}  // namespace junction::testing
