// An engine over the CPU backends for a model directory, for tests.
#pragma once

#include <memory>
#include <string>

#include "engine/backend/backend_registry.h"
#include "engine/runtime/engine.h"

namespace junction::testing {

struct CpuEngine {
  std::unique_ptr<BackendRegistry> registry;
  ModelSpec spec;
  std::unique_ptr<EngineApi> engine;
};

// Loads `model_dir` and starts an engine with `config`; fails the test on any error.
CpuEngine MakeCpuEngine(const std::string& model_dir, const EngineConfig& config);

}  // namespace junction::testing
