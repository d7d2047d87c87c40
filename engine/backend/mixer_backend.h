// The backend contract (DESIGN.md §5): a backend implements one mixer kind on one device class.
// It is described by a BackendDescriptor, says why it rejects a layer, and binds layers; a bound
// layer is planned once per step (host work) and run once per step (device work).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend/step_batch.h"
#include "engine/common/dtype.h"
#include "engine/model/model_spec.h"
#include "engine/model/weight_store.h"

namespace junction {

enum class DeviceClass { kCpu, kCuda };

struct DeviceInfo {
  DeviceClass device_class = DeviceClass::kCpu;
  int cuda_sm = 0;  // e.g. 90 for H100; 0 on the CPU
  std::string name;
};

enum class Phase { kPrefill, kDecode };

struct BackendDescriptor {
  std::string name;  // e.g. "cpu.flash"
  MixerKind kind = MixerKind::kAttention;
  DeviceClass device_class = DeviceClass::kCpu;
  int min_cuda_sm = 0;           // CUDA backends: lowest compute capability (80, 90)
  std::vector<int> head_dims;    // supported head dims; empty = any
  std::vector<DType> dtypes;     // activation dtypes
  bool prefill = true;
  bool decode = true;
  bool window_policy = false;    // serves AttentionPolicy::kWindow (sinks + window)
};

// Activations handed to a layer: device memory of the backend's device.
struct Activations {
  void* data = nullptr;  // [num_tokens, width], row-major
  DType dtype = DType::kF32;
  int num_tokens = 0;
  int width = 0;
};

// Everything a layer binds to at load time.
struct LayerContext {
  const ModelSpec* model = nullptr;
  int layer_index = 0;
  const MixerSpec* mixer = nullptr;
  const WeightStore* weights = nullptr;
  CacheGeometry cache;
};

class MixerLayer {
 public:
  virtual ~MixerLayer() = default;
  // Host-side preparation for this step (offsets, block tables, state slots). Called once per
  // step before Run. Errors: the batch asks for something this layer cannot do (e.g. a window
  // policy on a backend without one); the step is then abandoned.
  virtual absl::Status Plan(const StepBatch& batch) = 0;
  // in: the normalized hidden states [num_tokens, hidden]; out: the mixer's output
  // [num_tokens, hidden] (out is overwritten). Updates this layer's KV blocks / state slots of
  // the planned requests. No allocation on the device, no host sync.
  virtual void Run(const Activations& in, const Activations& out) = 0;
  // Opt-in to CUDA graphs of decode steps (backends/cuda/decode_graphs.h). Called after Plan. A
  // layer that returns true has appended to `key` every value the planned Run passes to its
  // launches that can differ from one step to the next (token counts, item counts, device
  // pointers of its plan and of grow-only buffers), and promises that Run only enqueues stream
  // work (no host sync, no allocation, no host state it relies on next step): a Run captured
  // once is then replayed for any later step whose key is equal, with the device data behind
  // those pointers refreshed by that step's Plan. False (the default): such steps run eagerly.
  virtual bool AppendGraphKey(std::vector<uint64_t>& /*key*/) const { return false; }
};

class MixerBackend {
 public:
  virtual ~MixerBackend() = default;
  virtual const BackendDescriptor& descriptor() const = 0;
  // Empty when this backend can serve `mixer` on `device`; otherwise the reason it cannot.
  virtual std::string Rejects(const MixerSpec& mixer, const DeviceInfo& device) const;
  // Binds one layer: reads its weights, allocates its cache storage for `context.cache`.
  virtual absl::StatusOr<std::unique_ptr<MixerLayer>> CreateLayer(
      const LayerContext& context) const = 0;
};

}  // namespace junction
