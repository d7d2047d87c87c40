// The one conversion from CUDA and cuBLAS errors to absl::Status, and the abort-on-error check
// used where no status can be returned (MixerLayer::Run).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/common/check.h"

namespace junction::cuda {

inline absl::Status CudaStatus(cudaError_t error, const char* expr, const char* file, int line) {
  if (error == cudaSuccess) return absl::OkStatus();
  const absl::StatusCode code = error == cudaErrorMemoryAllocation
                                    ? absl::StatusCode::kResourceExhausted
                                    : absl::StatusCode::kInternal;
  return absl::Status(code, absl::StrCat(expr, ": ", cudaGetErrorName(error), " (",
                                         cudaGetErrorString(error), ") at ", file, ":", line));
}

inline absl::Status CudaStatus(cublasStatus_t error, const char* expr, const char* file, int line) {
  if (error == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat(expr, ": cuBLAS status ", static_cast<int>(error), " at ", file, ":", line));
}

}  // namespace junction::cuda

// Returns an absl::Status from the enclosing function when a CUDA / cuBLAS call fails.
#define RETURN_IF_CUDA_ERROR(expr)                                       \
  do {                                                                   \
    ::absl::Status junction_cuda_status_ =                               \
        ::junction::cuda::CudaStatus((expr), #expr, __FILE__, __LINE__); \
    if (!junction_cuda_status_.ok()) return junction_cuda_status_;       \
  } while (0)

// Aborts with the error when a CUDA / cuBLAS call fails (device work inside Run, where a failure
// is a bug or a lost device, not bad input).
#define CHECK_CUDA(expr)                                                                        \
  do {                                                                                          \
    ::absl::Status junction_cuda_status_ =                                                      \
        ::junction::cuda::CudaStatus((expr), #expr, __FILE__, __LINE__);                        \
    JUNCTION_CHECK(junction_cuda_status_.ok(), "%s", junction_cuda_status_.ToString().c_str()); \
  } while (0)
