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

absl::StatusOr<CudaMemoryInfo> QueryCudaMemory() {
  RETURN_IF_ERROR(QueryCudaDevice().status());
  size_t free_bytes = 0, total_bytes = 0;
  RETURN_IF_CUDA_ERROR(cudaMemGetInfo(&free_bytes, &total_bytes));
  return CudaMemoryInfo{static_cast<int64_t>(free_bytes), static_cast<int64_t>(total_bytes)};
}

int64_t CudaWeightBytes(const ModelSpec& spec, bool read_per_decode_step) {
  const int64_t hidden = spec.hidden_size, vocab = spec.vocab_size, half = 2, f32 = 4;
  int64_t bytes = vocab * hidden * half;  // the LM head (or the tied embedding)
  if (!read_per_decode_step && spec.lm_head != spec.embedding) bytes += vocab * hidden * half;
  bytes += hidden * f32;  // final norm
  for (const LayerSpec& layer : spec.layers) {
    if (layer.mixer) {
      bytes += hidden * f32;
      if (const auto* a = std::get_if<AttentionSpec>(&layer.mixer->params)) {
        const int64_t q = int64_t{a->num_heads} * a->head_dim * (a->output_gate ? 2 : 1);
        const int64_t kv = int64_t{a->num_kv_heads} * a->head_dim;
        bytes += (q + 2 * kv) * hidden * half + int64_t{a->num_heads} * a->head_dim * hidden * half;
        if (a->qkv_bias) bytes += (q + 2 * kv) * f32;
        if (a->o_bias) bytes += hidden * f32;
      }
    }
    if (layer.mlp) bytes += 3 * int64_t{layer.mlp->intermediate_size} * hidden * half + hidden * f32;
  }
  return bytes;
}

}  // namespace junction::cuda
