#include "backends/cuda/cuda_context.h"

#include <memory>
#include <mutex>

#include "backends/cuda/cuda_backends.h"
#include "backends/cuda/cuda_check.h"
#include "engine/common/status_macros.h"

namespace junction::cuda {

absl::StatusOr<DeviceInfo> QueryCudaDevice() {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess || count == 0) {
    cudaGetLastError();  // clear the sticky "no device" error
    return absl::UnavailableError(
        error == cudaSuccess ? std::string("no CUDA device present")
                             : absl::StrCat("no usable CUDA device: ", cudaGetErrorString(error)));
  }
  cudaDeviceProp prop;
  RETURN_IF_CUDA_ERROR(cudaGetDeviceProperties(&prop, 0));
  DeviceInfo info;
  info.device_class = DeviceClass::kCuda;
  info.cuda_sm = prop.major * 10 + prop.minor;
  info.name = prop.name;
  return info;
}

absl::StatusOr<CudaContext*> CudaContext::Default() {
  static std::once_flag once;
  static CudaContext* context = nullptr;
  static absl::Status* init_status = nullptr;
  std::call_once(once, [] {
    auto* c = new CudaContext();
    absl::Status status = c->Init(0);
    if (status.ok()) {
      context = c;
    } else {
      delete c;
      init_status = new absl::Status(std::move(status));
    }
  });
  if (!context) return *init_status;
  return context;
}

absl::Status CudaContext::Init(int device_index) {
  ASSIGN_OR_RETURN(device_, QueryCudaDevice());
  RETURN_IF_CUDA_ERROR(cudaSetDevice(device_index));
  RETURN_IF_CUDA_ERROR(
      cudaDeviceGetAttribute(&num_sms_, cudaDevAttrMultiProcessorCount, device_index));
  RETURN_IF_CUDA_ERROR(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  RETURN_IF_CUDA_ERROR(cublasLtCreate(&cublas_));
  ASSIGN_OR_RETURN(workspace_, DeviceBuffer::Allocate(size_t{32} << 20));
  return absl::OkStatus();
}

absl::Status CudaContext::SynchronizeStream() const {
  RETURN_IF_CUDA_ERROR(cudaStreamSynchronize(stream_));
  return absl::OkStatus();
}

}  // namespace junction::cuda
