// A model ready to serve: its spec, tokenizer, backends and running engine, loaded from a Hugging
// Face model directory. Shared by junction-server and junction-cli.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/backend/backend_registry.h"
#include "engine/runtime/engine.h"
#include "engine/tokenizer/tokenizer.h"

namespace junction {

struct ServedModel {
  std::string id;            // the name clients use (`model` in requests)
  std::string architecture;  // config.json architectures[0]
  ModelSpec spec;
  std::unique_ptr<Tokenizer> tokenizer;
  // Declared before the engine: the engine's runner holds references into the registry.
  std::unique_ptr<BackendRegistry> registry;
  std::unique_ptr<EngineApi> engine;
};

// Reads DIR/config.json (spec), the safetensors weights, DIR/tokenizer.json (+ config), registers
// the CPU backends and starts an engine with `config`. `id` defaults to `dir`. Errors name the
// file or part at fault (the model spec, weights, tokenizer or engine config).
absl::StatusOr<ServedModel> LoadServedModel(const std::string& dir, const EngineConfig& config,
                                            const std::string& id = "");

}  // namespace junction
