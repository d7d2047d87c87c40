#include "backends/cuda/plan_upload.h"

#include <algorithm>
#include <cstring>

#include "backends/cuda/cuda_check.h"
#include "engine/common/status_macros.h"

namespace junction::cuda {
namespace {

size_t AlignUp(size_t n) { return (n + 255) / 256 * 256; }

}  // namespace

PlanUpload::~PlanUpload() {
  if (uploaded_) cudaEventDestroy(uploaded_);
}

absl::Status PlanUpload::Upload(std::initializer_list<Array> arrays, cudaStream_t stream) {
  offsets_.clear();
  size_t total = 0;
  for (const Array& a : arrays) {
    offsets_.push_back(total);
    total += AlignUp(a.bytes);
  }
  if (uploaded_ == nullptr) {
    RETURN_IF_CUDA_ERROR(cudaEventCreateWithFlags(&uploaded_, cudaEventDisableTiming));
  } else {
    RETURN_IF_CUDA_ERROR(cudaEventSynchronize(uploaded_));
  }
  // At least one aligned block, so every array's address is a valid (if empty) device pointer.
  RETURN_IF_ERROR(staging_.Reserve(std::max<size_t>(total, 256)));
  RETURN_IF_ERROR(device_.Reserve(std::max<size_t>(total, 256)));
  char* host = static_cast<char*>(staging_.data());
  size_t i = 0;
  for (const Array& a : arrays) {
    if (a.bytes > 0) std::memcpy(host + offsets_[i], a.data, a.bytes);
    ++i;
  }
  if (total > 0)
    RETURN_IF_CUDA_ERROR(
        cudaMemcpyAsync(device_.data(), host, total, cudaMemcpyHostToDevice, stream));
  RETURN_IF_CUDA_ERROR(cudaEventRecord(uploaded_, stream));
  return absl::OkStatus();
}

}  // namespace junction::cuda
