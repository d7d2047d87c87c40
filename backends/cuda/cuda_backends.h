// Entry points of the CUDA backend: registering its mixer backends, building a model runner and
// querying the device. Mirrors backends/cpu/cpu_backends.h.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/backend/backend_registry.h"
#include "engine/backend/model_runner.h"

namespace junction::cuda {

// The CUDA device the backend would use (device 0): its compute capability and name.
// Unavailable (not a crash) when there is no device or no usable driver.
absl::StatusOr<DeviceInfo> QueryCudaDevice();

struct CudaMemoryInfo {
  int64_t free_bytes = 0;
  int64_t total_bytes = 0;
};
// Free and total memory of device 0 now. Unavailable when there is no device.
absl::StatusOr<CudaMemoryInfo> QueryCudaMemory();

// Device bytes of a model's weights as the CUDA runner stores them (16-bit matrices: embedding,
// LM head unless tied, every mixer's projections, the MLP's; float32 norms, biases, per-head
// vectors and conv filters). Sizes the KV cache from the free device memory.
// `read_per_decode_step`: without the embedding table (a decode step reads one row of it) but
// with the LM head: the bytes one decode step must read, whose time is the decode floor.
int64_t CudaWeightBytes(const ModelSpec& spec, bool read_per_decode_step = false);

// Adds every CUDA mixer backend to `registry`, after whatever is there.
void RegisterCudaBackends(BackendRegistry& registry);

// The mixer backends beside "cuda.flash", each defined in its <name>_backend.cc.
std::unique_ptr<MixerBackend> MakeCudaWindowBackend();         // "cuda.window"
std::unique_ptr<MixerBackend> MakeCudaMamba2Backend();         // "cuda.mamba2"
std::unique_ptr<MixerBackend> MakeCudaGatedDeltaNetBackend();  // "cuda.gated_deltanet"
std::unique_ptr<MixerBackend> MakeCudaPathBackend();           // "cuda.path"

struct CudaRunnerOptions {
  CacheGeometry cache;
  // Pinned backend name per mixer kind; empty = the first CUDA backend that accepts the layer.
  std::map<MixerKind, std::string> pinned;
  // Decode-only steps whose every layer opts in (MixerLayer::AppendGraphKey) are replayed as
  // CUDA graphs (backends/cuda/decode_graphs.h); false: every step runs eagerly.
  bool cuda_graphs = true;
};

// How a CUDA runner's keyed decode steps ran (see backends/cuda/decode_graphs.h).
struct DecodeGraphStats {
  int64_t eager_steps = 0;     // keyed steps run eagerly (first sightings, refused keys)
  int64_t captured_steps = 0;  // steps that captured a new graph (and launched it)
  int64_t replayed_steps = 0;  // steps that launched a cached graph
  int64_t failed_captures = 0;
};
// The counts of a runner made by CreateCudaModelRunner; zeros for any other runner.
DecodeGraphStats CudaDecodeGraphStats(const ModelRunner& runner);

// Loads `spec` onto the GPU in bf16 (weights converted from whatever the files store) with the
// first registered backend that accepts each layer on this device (or the pinned one); MLPs are
// SwiGLU or relu². Errors: no device, a missing or misshapen weight (named), a
// layer no backend serves (with every rejection), out of device memory.
absl::StatusOr<std::unique_ptr<ModelRunner>> CreateCudaModelRunner(
    const ModelSpec& spec, std::shared_ptr<const WeightStore> weights,
    const BackendRegistry& registry, const CudaRunnerOptions& options);

}  // namespace junction::cuda
