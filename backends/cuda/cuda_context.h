// CudaContext: the stream, cuBLASLt handle and GEMM workspace that every CUDA layer of a process
// uses on one device. Created once (on first use) and immutable afterwards; all device work of
// the CUDA backend is issued on its stream, in order, by the engine thread.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <string>

#include "absl/status/statusor.h"
#include "backends/cuda/device_memory.h"
#include "engine/backend/mixer_backend.h"

namespace junction::cuda {

class CudaContext {
 public:
  // The context of device 0. Errors: no CUDA device, driver failure (the status says which).
  static absl::StatusOr<CudaContext*> Default();

  cudaStream_t stream() const { return stream_; }
  cublasLtHandle_t cublas() const { return cublas_; }
  void* workspace() const { return workspace_.data(); }
  size_t workspace_bytes() const { return workspace_.size_bytes(); }
  int num_sms() const { return num_sms_; }
  const DeviceInfo& device() const { return device_; }

  // Blocks the host until the stream's work is done.
  absl::Status SynchronizeStream() const;

 private:
  CudaContext() = default;
  absl::Status Init(int device_index);

  cudaStream_t stream_ = nullptr;
  cublasLtHandle_t cublas_ = nullptr;
  DeviceBuffer workspace_;
  int num_sms_ = 0;
  DeviceInfo device_;
};

}  // namespace junction::cuda
