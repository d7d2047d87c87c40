// ModelRunner: runs whole forward steps of one loaded model on one device. Implemented per
// device class in backends/ (CPU: backends/cpu/cpu_model_runner.h). Owned and called by the
// engine thread only; not thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/backend/mixer_backend.h"
#include "engine/backend/step_batch.h"
#include "engine/model/model_spec.h"

namespace junction {

// Which backend serves each layer (for reports: CLI JSON, server metadata).
struct LayerBackend {
  int layer_index = 0;
  MixerKind kind = MixerKind::kAttention;
  std::string backend;
};

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;

  // Runs one forward over `batch` and copies the logit rows (StepBatch::NumLogitRows() x
  // vocab, float32, row-major) to `logits` on the host, resizing it. Updates the KV blocks and
  // state slots named by the batch; a chunk with num_computed == 0 starts its recurrent state
  // from zero. Errors leave the named caches in an unspecified state.
  virtual absl::Status ForwardToHost(const StepBatch& batch, std::vector<float>& logits) = 0;

  virtual const ModelSpec& spec() const = 0;
  virtual const CacheGeometry& cache() const = 0;
  virtual const DeviceInfo& device() const = 0;
  virtual std::vector<LayerBackend> layer_backends() const = 0;
};

}  // namespace junction
