#include "backends/cuda/device_memory.h"

#include <algorithm>
#include <utility>

#include "backends/cuda/cuda_check.h"
#include "engine/common/status_macros.h"

namespace junction::cuda {

DeviceBuffer::~DeviceBuffer() {
  if (data_) cudaFree(data_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_bytes_(std::exchange(other.size_bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_) cudaFree(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_bytes_ = std::exchange(other.size_bytes_, 0);
  }
  return *this;
}

absl::StatusOr<DeviceBuffer> DeviceBuffer::Allocate(size_t num_bytes) {
  DeviceBuffer buffer;
  RETURN_IF_ERROR(buffer.Reserve(num_bytes));
  return buffer;
}

absl::Status DeviceBuffer::Reserve(size_t num_bytes) {
  if (num_bytes <= size_bytes_ && data_) return absl::OkStatus();
  if (data_) {
    RETURN_IF_CUDA_ERROR(cudaDeviceSynchronize());  // the old buffer may still be in use
    RETURN_IF_CUDA_ERROR(cudaFree(data_));
    data_ = nullptr;
    size_bytes_ = 0;
  }
  const size_t bytes = num_bytes == 0 ? 256 : num_bytes;
  RETURN_IF_CUDA_ERROR(cudaMalloc(&data_, bytes));
  size_bytes_ = bytes;
  return absl::OkStatus();
}

PinnedBuffer::~PinnedBuffer() {
  if (data_) cudaFreeHost(data_);
}

PinnedBuffer::PinnedBuffer(PinnedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_bytes_(std::exchange(other.size_bytes_, 0)) {}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& other) noexcept {
  if (this != &other) {
    if (data_) cudaFreeHost(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_bytes_ = std::exchange(other.size_bytes_, 0);
  }
  return *this;
}

absl::Status PinnedBuffer::Reserve(size_t num_bytes) {
  if (num_bytes <= size_bytes_ && data_) return absl::OkStatus();
  if (data_) {
    RETURN_IF_CUDA_ERROR(cudaDeviceSynchronize());
    RETURN_IF_CUDA_ERROR(cudaFreeHost(data_));
    data_ = nullptr;
    size_bytes_ = 0;
  }
  const size_t bytes = std::max<size_t>(num_bytes, 4096);
  RETURN_IF_CUDA_ERROR(cudaMallocHost(&data_, bytes));
  size_bytes_ = bytes;
  return absl::OkStatus();
}

absl::StatusOr<void*> DeviceArena::Allocate(size_t num_bytes) {
  const size_t aligned = (num_bytes + 255) / 256 * 256;
  if (chunks_.empty() || offset_ + aligned > chunks_.back().size_bytes()) {
    ASSIGN_OR_RETURN(DeviceBuffer chunk, DeviceBuffer::Allocate(std::max(aligned, chunk_bytes_)));
    chunks_.push_back(std::move(chunk));
    offset_ = 0;
  }
  void* out = static_cast<char*>(chunks_.back().data()) + offset_;
  offset_ += aligned;
  bytes_in_use_ += aligned;
  return out;
}

absl::StatusOr<void*> DeviceArena::Upload(const void* host, size_t num_bytes) {
  ASSIGN_OR_RETURN(void* out, Allocate(num_bytes));
  RETURN_IF_CUDA_ERROR(cudaMemcpy(out, host, num_bytes, cudaMemcpyHostToDevice));
  // A pageable upload may still be in flight when cudaMemcpy returns, and the backend's stream
  // does not order itself after the legacy stream: wait here (load time only).
  RETURN_IF_CUDA_ERROR(cudaDeviceSynchronize());
  return out;
}

}  // namespace junction::cuda
