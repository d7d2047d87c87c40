// ModelRunner: runs whole forward steps of one loaded model on one device. Implemented per
// device class in backends/ (CPU: backends/cpu/cpu_model_runner.h). Owned and called by the
// engine thread only; not thread-safe.
#pragma once

#include <cstdint>
#include <span>
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

// How ForwardAndSample turns one logit row into a token. A row sampled on the device follows the
// host Sampler's filters (temperature -> top-k -> min-p -> top-p; greedy = argmax, lowest id on
// ties) without penalties or log-probabilities, and draws with a counter-based generator: the
// same (seed, offset) on the same device gives the same token.
struct RowSampling {
  bool on_device = false;     // false: the row's logits go back to the host instead
  float temperature = 0.0f;   // 0 = greedy
  int top_k = 0;              // <= 0 = off
  float top_p = 1.0f;         // (0, 1]
  float min_p = 0.0f;         // [0, 1]
  uint64_t seed = 0;
  uint64_t offset = 0;        // draw index: the request's generated-token count
};

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;

  // Runs one forward over `batch` and copies the logit rows (StepBatch::NumLogitRows() x
  // vocab, float32, row-major) to `logits` on the host, resizing it. Updates the KV blocks and
  // state slots named by the batch; a chunk with num_computed == 0 starts its recurrent state
  // from zero. Errors leave the named caches in an unspecified state.
  virtual absl::Status ForwardToHost(const StepBatch& batch, std::vector<float>& logits) = 0;

  // Whether ForwardAndSample is implemented.
  virtual bool SamplesOnDevice() const { return false; }

  // Runs one forward over `batch` like ForwardToHost, then per logit row (rows.size() ==
  // batch.NumLogitRows(), in the same order): a row with on_device set is sampled where the
  // logits are, and ids[i] gets its token; every other row is copied to the host, packed in row
  // order into `host_logits` ([number of host rows, vocab], float32, resized), and ids[i] = -1.
  // `ids` is resized to rows.size(). Synchronizes with the device once. Errors as ForwardToHost;
  // Unimplemented (naming the runner) where SamplesOnDevice() is false; InvalidArgument when
  // rows.size() is wrong (nothing run then).
  virtual absl::Status ForwardAndSample(const StepBatch& batch, std::span<const RowSampling> rows,
                                        std::vector<TokenId>& ids,
                                        std::vector<float>& host_logits);

  virtual const ModelSpec& spec() const = 0;
  virtual const CacheGeometry& cache() const = 0;
  virtual const DeviceInfo& device() const = 0;
  virtual std::vector<LayerBackend> layer_backends() const = 0;
};

}  // namespace junction
