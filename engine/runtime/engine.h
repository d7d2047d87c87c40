// Creating an engine: configuration, validation and the factory. The engine sizes its KV-block
// and state-slot pools from the memory budget, then asks `make_runner` for a model runner with
// that geometry, and starts its engine thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/backend/backend_registry.h"
#include "engine/backend/model_runner.h"
#include "engine/runtime/engine_api.h"

namespace junction {

struct EngineConfig {
  int block_size = 16;
  int64_t kv_memory_bytes = 0;  // --kv-memory; 0 = a default budget for the device
  int max_num_seqs = 256;        // --max-seqs
  int max_batched_tokens = 2048; // --max-batched-tokens: tokens per step (prefill chunks + decode)
  bool prefix_cache = true;      // --no-prefix-cache turns it off
  int max_waiting = 1024;        // --max-waiting: queue bound; beyond it Submit is ResourceExhausted
  std::string attention_backend;          // --attention-backend: pin for softmax layers
  std::string attention_policy = "auto";  // --attention-policy auto|full|window
  int window_sinks = 4;                   // --window-sinks
  int window_size = 0;  // --window-size; 0 = the model context minus the sinks
  // Rows of requests without penalties or log-probabilities are sampled by the runner where the
  // logits are, when it can (ModelRunner::SamplesOnDevice): the CUDA runner then copies back
  // token ids instead of logits (batch-1 decode 7.00 -> 6.86 ms/token on the 8B shape, H100,
  // 2026-12-06). --no-device-sampling turns it off.
  bool device_sampling = true;
  // Runners that can replay decode steps as CUDA graphs do (the CUDA runner; its factory passes
  // this on): 6.86 -> 6.46 ms/token in the same run. --no-cuda-graphs turns it off.
  bool cuda_graphs = true;

  // OK, or InvalidArgument listing every bad field.
  absl::Status Validate() const;
};

// Parses one engine flag (`--kv-memory 1G`, `--no-prefix-cache`, ...) at argv[*index],
// advancing *index past its value. Returns false when argv[*index] is not an engine flag;
// records a message in `problems` when it is one but its value is bad.
bool ParseEngineFlag(int argc, char** argv, int* index, EngineConfig& config,
                     std::vector<std::string>& problems);
std::string EngineFlagsUsage();

using RunnerFactory =
    std::function<absl::StatusOr<std::unique_ptr<ModelRunner>>(const CacheGeometry&)>;

// Errors: invalid config; a budget too small for one request of one block; runner errors.
absl::StatusOr<std::unique_ptr<EngineApi>> CreateEngine(const ModelSpec& spec,
                                                        const EngineConfig& config,
                                                        const DeviceInfo& device,
                                                        const BackendRegistry& registry,
                                                        RunnerFactory make_runner);

}  // namespace junction
