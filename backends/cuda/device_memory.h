// Device memory: an owning cudaMalloc'd buffer, and an arena that carves many small tensors
// (weights, plans) out of a few large cudaMalloc'd chunks. No managed memory anywhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace junction::cuda {

// One cudaMalloc'd allocation, freed on destruction. Move-only.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  static absl::StatusOr<DeviceBuffer> Allocate(size_t num_bytes);
  // Grows to at least `num_bytes` (contents are lost on growth; syncs the device then).
  absl::Status Reserve(size_t num_bytes);

  void* data() const { return data_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  size_t size_bytes() const { return size_bytes_; }

 private:
  void* data_ = nullptr;
  size_t size_bytes_ = 0;
};

// Page-locked host memory (for asynchronous uploads of per-step plans). Move-only.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& other) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  absl::Status Reserve(size_t num_bytes);
  void* data() const { return data_; }
  size_t size_bytes() const { return size_bytes_; }

 private:
  void* data_ = nullptr;
  size_t size_bytes_ = 0;
};

// Bump allocator over cudaMalloc'd chunks of at least `chunk_bytes`; everything is freed
// together with the arena. Allocations are 256-byte aligned. Not thread-safe.
class DeviceArena {
 public:
  explicit DeviceArena(size_t chunk_bytes = size_t{64} << 20) : chunk_bytes_(chunk_bytes) {}
  absl::StatusOr<void*> Allocate(size_t num_bytes);
  // Allocates and copies `num_bytes` from host memory (synchronous).
  absl::StatusOr<void*> Upload(const void* host, size_t num_bytes);
  size_t bytes_in_use() const { return bytes_in_use_; }

 private:
  size_t chunk_bytes_;
  std::vector<DeviceBuffer> chunks_;
  size_t offset_ = 0;  // into chunks_.back()
  size_t bytes_in_use_ = 0;
};

}  // namespace junction::cuda
