// A model ready to serve: its spec, tokenizer, backends and running engine, loaded from a Hugging
// Face model directory (or, for benchmarks, a config.json alone with random weights generated on
// the GPU) onto the chosen device. Shared by junction-server and junction-cli.
#pragma once

#include <cstdint>
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
  DeviceInfo device;          // where the engine runs
  std::string device_reason;  // why that device (also logged to stderr at load)
  std::unique_ptr<Tokenizer> tokenizer;  // null only without require_tokenizer
  // Declared before the engine: the engine's runner holds references into the registry.
  std::unique_ptr<BackendRegistry> registry;
  std::unique_ptr<EngineApi> engine;
};

// The device to run on: "auto" (CUDA when this build has the CUDA backend and a device of
// sm_80 or newer is present, else the CPU), "cpu" or "cuda" (an error when no usable CUDA
// device is there, saying why).
struct DeviceChoice {
  DeviceInfo device;
  std::string reason;
};
absl::StatusOr<DeviceChoice> ChooseDevice(const std::string& requested);

struct ServedModelOptions {
  std::string id;               // default: the model dir (or the random-weights config path)
  std::string device = "auto";  // --device auto|cpu|cuda
  // --random-weights CONFIG: a config.json; the weights are random bf16 generated on the GPU
  // (CUDA only; for benchmarks at full size without a checkpoint). The model dir is then unused.
  std::string random_weights_config;
  uint64_t random_seed = 0;
  // --tokenizer DIR: tokenizer.json (+ config) from DIR instead of the model dir. With random
  // weights and no --tokenizer: a synthetic byte-level tokenizer over the model's whole vocab
  // (ids 0-255 are the bytes, id N >= 256 decodes to " tN"), so token-id prompts and every
  // generated id work.
  std::string tokenizer_dir;
  // false: a directory without tokenizer.json loads with no tokenizer (token-id prompts only).
  bool require_tokenizer = true;
  // Log the device choice and the KV-cache size to stderr.
  bool verbose = true;
};

// A runner factory for `spec` on `device`: registers that device's backends in `registry` (which
// must outlive the runners) and builds runners with the given cache geometry. `pinned_attention`
// names the backend of every softmax-attention layer (empty = the router's choice).
// `cuda_graphs`: CUDA runners replay decode steps as CUDA graphs (EngineConfig::cuda_graphs).
absl::StatusOr<RunnerFactory> MakeRunnerFactory(const ModelSpec& spec,
                                                std::shared_ptr<const WeightStore> weights,
                                                const DeviceInfo& device, BackendRegistry& registry,
                                                const std::string& pinned_attention,
                                                bool cuda_graphs = true);

// Reads DIR/config.json (spec), the safetensors weights, DIR/tokenizer.json (+ config), picks the
// device (ChooseDevice; the choice and its reason go to stderr), registers that device's
// backends and starts an engine with `config`. On CUDA, kv_memory_bytes 0 sizes the KV cache
// from the free device memory after the weights. Errors name the file or part at fault (the
// model spec, weights, tokenizer, device or engine config).
absl::StatusOr<ServedModel> LoadServedModel(const std::string& dir, const EngineConfig& config,
                                            const ServedModelOptions& options);
absl::StatusOr<ServedModel> LoadServedModel(const std::string& dir, const EngineConfig& config,
                                            const std::string& id = "");

// The synthetic tokenizer described at ServedModelOptions::tokenizer_dir, over `vocab_size` ids.
absl::StatusOr<std::unique_ptr<Tokenizer>> MakeSyntheticTokenizer(int vocab_size);

}  // namespace junction
