#include "backends/cuda/cuda_context.h"

#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "backends/cuda/cuda_backends.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/launch.cuh"
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
  // Programmatic dependent launch of the forward kernels (kernels/launch.cuh): process-wide,
  // sm_90+ with JUNCTION_CUDA_PDL=1 only; off by default.
  const char* pdl = std::getenv("JUNCTION_CUDA_PDL");
  SetProgrammaticLaunch(pdl != nullptr && std::string(pdl) == "1" && device_.cuda_sm >= 90);
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

namespace {

// 16-bit matrices and float32 vectors of one mixer, as its CUDA layer uploads them (the small
// per-head vectors are counted as float32; conv filters too).
int64_t MixerWeightBytes(const MixerSpec& mixer, int64_t hidden) {
  constexpr int64_t half = 2, f32 = 4;
  if (const auto* a = std::get_if<AttentionSpec>(&mixer.params)) {
    const int64_t q = int64_t{a->num_heads} * a->head_dim * (a->output_gate ? 2 : 1);
    const int64_t kv = int64_t{a->num_kv_heads} * a->head_dim;
    int64_t bytes = (q + 2 * kv) * hidden * half + int64_t{a->num_heads} * a->head_dim * hidden * half;
    if (a->qkv_bias) bytes += (q + 2 * kv) * f32;
    if (a->o_bias) bytes += hidden * f32;
    return bytes;
  }
  if (const auto* m = std::get_if<Mamba2Spec>(&mixer.params)) {
    const int64_t inner = m->inner_size, gn = int64_t{m->num_groups} * m->state_size;
    const int64_t conv_dim = inner + 2 * gn, proj = 2 * inner + 2 * gn + m->num_heads;
    return proj * hidden * half + hidden * inner * half + conv_dim * (m->conv_kernel + 1) * f32 +
           inner * f32 + int64_t{m->num_heads} * 3 * f32;
  }
  if (const auto* g = std::get_if<GatedDeltaNetSpec>(&mixer.params)) {
    const int64_t key = int64_t{g->num_key_heads} * g->head_k_dim;
    const int64_t value = int64_t{g->num_value_heads} * g->head_v_dim;
    const int64_t heads = g->num_value_heads;
    return (2 * key + 2 * value) * hidden * half + 2 * heads * hidden * half +
           hidden * value * half + (2 * key + value) * g->conv_kernel * f32 + heads * 2 * f32 +
           g->head_v_dim * f32;
  }
  if (const auto* p = std::get_if<PathSpec>(&mixer.params)) {
    const int64_t q = int64_t{p->num_heads} * p->head_dim;
    const int64_t kv = int64_t{p->num_kv_heads} * p->head_dim;
    const int64_t w = p->low_rank_w ? (hidden + kv) * p->w_rank : kv * hidden;
    const int64_t gates = p->num_kv_heads + (p->forget_gate ? p->num_heads : 0);
    return (q + 2 * kv) * hidden * half + hidden * q * half + w * half + gates * hidden * half +
           kv * p->conv_kernel * f32 + gates * f32;
  }
  return 0;
}

}  // namespace

int64_t CudaWeightBytes(const ModelSpec& spec, bool read_per_decode_step) {
  const int64_t hidden = spec.hidden_size, vocab = spec.vocab_size, half = 2, f32 = 4;
  int64_t bytes = vocab * hidden * half;  // the LM head (or the tied embedding)
  if (!read_per_decode_step && spec.lm_head != spec.embedding) bytes += vocab * hidden * half;
  bytes += hidden * f32;  // final norm
  for (const LayerSpec& layer : spec.layers) {
    if (layer.mixer) bytes += hidden * f32 + MixerWeightBytes(*layer.mixer, hidden);
    if (layer.mlp) {
      const int64_t matrices = layer.mlp->kind == MlpKind::kRelu2 ? 2 : 3;
      bytes += matrices * int64_t{layer.mlp->intermediate_size} * hidden * half + hidden * f32;
    }
  }
  return bytes;
}

}  // namespace junction::cuda
