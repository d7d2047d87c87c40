// Decode steps replayed as CUDA graphs (issue 9). A step's key lists every value its launches
// take that can change from one step to the next (the runner's buffer pointers and counts, and
// each layer's MixerLayer::AppendGraphKey); a graph captured for a key stays valid for every
// later step with an equal key, because the data behind its pointers (token ids, sampling
// parameters, flash plans, KV blocks) is uploaded on the stream before each launch.
//
// Policy: a key seen for the first time runs eagerly (GEMM shapes get tuned outside a capture,
// and a one-off key costs no capture); the second time it is captured, instantiated and
// launched; from then on its graph is launched. A failed capture or instantiation leaves that
// key eager for good (counted in the stats, reported once on stderr), never a wrong result.
// The `capacity` most recently used keys are remembered; evicting one destroys its graph.
// Engine thread only.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <list>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "backends/cuda/cuda_backends.h"

namespace junction::cuda {

using GraphKey = std::vector<uint64_t>;

// The bookkeeping of the policy above over opaque graph handles, with no CUDA calls (tests
// drive it with fake handles). `release` is called on the handle of every evicted key, and of
// every key left at destruction.
class GraphLru {
 public:
  enum class Action { kEager, kCapture, kReplay };

  GraphLru(int capacity, std::function<void(void*)> release);
  ~GraphLru();
  GraphLru(const GraphLru&) = delete;
  GraphLru& operator=(const GraphLru&) = delete;

  // Records one sighting of `key` (now the most recently used) and says what to do with it;
  // with kReplay, *graph is its handle.
  Action Next(const GraphKey& key, void** graph);
  // The handle captured for `key` after Next said kCapture (the key must still be present).
  void Store(const GraphKey& key, void* graph);
  // Capturing `key` failed: Next says kEager for it from now on.
  void Refuse(const GraphKey& key);

  int num_keys() const { return static_cast<int>(entries_.size()); }
  int num_graphs() const;

 private:
  struct Entry {
    GraphKey key;
    int sightings = 0;
    void* graph = nullptr;
    bool refused = false;
  };
  const int capacity_;
  std::function<void(void*)> release_;
  std::list<Entry> entries_;  // most recently used first
  absl::flat_hash_map<GraphKey, std::list<Entry>::iterator> index_;
};

class DecodeGraphs {
 public:
  explicit DecodeGraphs(int capacity = 32);

  // Enqueues one step's device work on `stream`: `enqueue` itself (eager or under capture, so
  // it must only enqueue stream work) or the cached graph of `key`. Errors: `enqueue`'s, or a
  // failed graph launch.
  absl::Status Run(const GraphKey& key, cudaStream_t stream,
                   const std::function<absl::Status()>& enqueue);

  const DecodeGraphStats& stats() const { return stats_; }

 private:
  // Captures `enqueue` on `stream` and instantiates it; nothing runs.
  absl::Status Capture(cudaStream_t stream, const std::function<absl::Status()>& enqueue,
                       cudaGraphExec_t* exec);

  GraphLru lru_;
  DecodeGraphStats stats_;
};

}  // namespace junction::cuda
