// A step's plan arrays (work items, block tables, slots, ...) go to the device in one copy:
// packed into page-locked staging at 256-byte offsets, then one cudaMemcpyAsync. Before the
// staging is written again, the previous copy out of it must have completed (the copy engine may
// still be reading it), so each upload waits for the event recorded after the last one.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <vector>

#include <cuda_runtime.h>

#include "absl/status/status.h"
#include "backends/cuda/device_memory.h"

namespace junction::cuda {

class PlanUpload {
 public:
  struct Array {
    const void* data;
    size_t bytes;
  };
  template <typename T>
  static Array Of(const std::vector<T>& v) {
    return {v.data(), v.size() * sizeof(T)};
  }

  PlanUpload() = default;
  ~PlanUpload();
  PlanUpload(const PlanUpload&) = delete;
  PlanUpload& operator=(const PlanUpload&) = delete;

  // Copies `arrays` to the device on `stream`. The device buffer keeps its address unless the
  // plan outgrows it (CUDA graphs key on that address).
  absl::Status Upload(std::initializer_list<Array> arrays, cudaStream_t stream);

  // Array `i` of the last Upload, on the device.
  template <typename T>
  const T* at(int i) const {
    return reinterpret_cast<const T*>(device_.as<char>() + offsets_[i]);
  }

 private:
  PinnedBuffer staging_;
  DeviceBuffer device_;
  cudaEvent_t uploaded_ = nullptr;  // the staging buffer is free again once this completes
  std::vector<size_t> offsets_;
};

}  // namespace junction::cuda
