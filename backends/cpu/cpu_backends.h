// Entry points of the CPU backend: registering its mixer backends and building a model runner.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/backend/backend_registry.h"
#include "engine/backend/model_runner.h"

namespace junction::cpu {

// Adds every CPU mixer backend to `registry` (after whatever is there: lower priority).
void RegisterCpuBackends(BackendRegistry& registry);

struct CpuRunnerOptions {
  CacheGeometry cache;
  // Pinned backend name per mixer kind (operators' --attention-backend); empty = router's pick.
  std::map<MixerKind, std::string> pinned;
};

// Loads every layer of `spec` from `weights` with the first CPU backend that accepts it.
// Errors: a missing or misshapen weight (named), a layer no CPU backend serves (with reasons).
absl::StatusOr<std::unique_ptr<ModelRunner>> CreateCpuModelRunner(
    const ModelSpec& spec, std::shared_ptr<const WeightStore> weights,
    const BackendRegistry& registry, const CpuRunnerOptions& options);

}  // namespace junction::cpu

namespace junction::cpu {
// Threads the CPU backend computes with (0 = every core). Call before running a model.
void SetCpuThreads(int num_threads);
}  // namespace junction::cpu
