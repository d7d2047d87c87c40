#include "backends/cuda/decode_graphs.h"

#include <algorithm>
#include <cstdio>

#include "backends/cuda/cuda_check.h"
#include "engine/common/check.h"

namespace junction::cuda {

GraphLru::GraphLru(int capacity, std::function<void(void*)> release)
    : capacity_(std::max(capacity, 1)), release_(std::move(release)) {}

GraphLru::~GraphLru() {
  for (Entry& e : entries_)
    if (e.graph != nullptr) release_(e.graph);
}

GraphLru::Action GraphLru::Next(const GraphKey& key, void** graph) {
  auto it = index_.find(key);
  if (it == index_.end()) {
    if (static_cast<int>(entries_.size()) >= capacity_) {
      Entry& oldest = entries_.back();
      if (oldest.graph != nullptr) release_(oldest.graph);
      index_.erase(oldest.key);
      entries_.pop_back();
    }
    entries_.push_front(Entry{key});
    it = index_.emplace(key, entries_.begin()).first;
  } else {
    entries_.splice(entries_.begin(), entries_, it->second);
  }
  Entry& entry = *it->second;
  ++entry.sightings;
  if (entry.graph != nullptr) {
    *graph = entry.graph;
    return Action::kReplay;
  }
  return entry.sightings >= 2 && !entry.refused ? Action::kCapture : Action::kEager;
}

void GraphLru::Store(const GraphKey& key, void* graph) {
  auto it = index_.find(key);
  JUNCTION_CHECK(it != index_.end() && it->second->graph == nullptr);
  it->second->graph = graph;
}

void GraphLru::Refuse(const GraphKey& key) {
  auto it = index_.find(key);
  JUNCTION_CHECK(it != index_.end());
  it->second->refused = true;
}

int GraphLru::num_graphs() const {
  int n = 0;
  for (const Entry& e : entries_) n += e.graph != nullptr;
  return n;
}

DecodeGraphs::DecodeGraphs(int capacity)
    : lru_(capacity, [](void* exec) { cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec)); }) {
}

absl::Status DecodeGraphs::Capture(cudaStream_t stream,
                                   const std::function<absl::Status()>& enqueue,
                                   cudaGraphExec_t* exec) {
  // Thread-local mode: only this (the engine) thread's unsafe calls invalidate the capture.
  RETURN_IF_CUDA_ERROR(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  const absl::Status status = enqueue();
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream, &graph);
  absl::Status result = status;
  if (result.ok()) result = CudaStatus(ended, "cudaStreamEndCapture", __FILE__, __LINE__);
  if (result.ok())
    result = CudaStatus(cudaGraphInstantiate(exec, graph, 0), "cudaGraphInstantiate", __FILE__,
                        __LINE__);
  if (graph != nullptr) cudaGraphDestroy(graph);
  if (!result.ok()) cudaGetLastError();  // a failed capture leaves no sticky error behind
  return result;
}

absl::Status DecodeGraphs::Run(const GraphKey& key, cudaStream_t stream,
                               const std::function<absl::Status()>& enqueue) {
  void* graph = nullptr;
  switch (lru_.Next(key, &graph)) {
    case GraphLru::Action::kReplay:
      ++stats_.replayed_steps;
      RETURN_IF_CUDA_ERROR(cudaGraphLaunch(static_cast<cudaGraphExec_t>(graph), stream));
      return absl::OkStatus();
    case GraphLru::Action::kCapture: {
      cudaGraphExec_t exec = nullptr;
      if (const absl::Status status = Capture(stream, enqueue, &exec); !status.ok()) {
        if (stats_.failed_captures++ == 0)
          std::fprintf(stderr,
                       "junction: CUDA graph capture failed, decode steps of that shape "
                       "run eagerly: %s\n",
                       status.ToString().c_str());
        lru_.Refuse(key);
        break;
      }
      lru_.Store(key, exec);
      ++stats_.captured_steps;
      RETURN_IF_CUDA_ERROR(cudaGraphLaunch(exec, stream));
      return absl::OkStatus();
    }
    case GraphLru::Action::kEager:
      break;
  }
  ++stats_.eager_steps;
  return enqueue();
}

}  // namespace junction::cuda
