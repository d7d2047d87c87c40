// Mamba2 elementwise kernels: the causal depthwise conv + SiLU over xBC (with the conv window
// of each request's state slot), and the gated RMSNorm before out_proj.
#include "backends/cuda/kernels/cuda_types.cuh"
#include "backends/cuda/kernels/mamba2_kernels.h"

namespace junction::cuda {
namespace {

__device__ __forceinline__ float Silu(float x) { return x / (1.0f + __expf(-x)); }

// One thread = one channel of one segment. The history (the K-1 inputs before the current
// token) slides through registers; the segment-0 thread of a request also rewrites the window,
// so the old window is read and overwritten by the same thread (no cross-CTA race).
template <int K>
__global__ void __launch_bounds__(128) Mamba2ConvKernel(const Mamba2ConvParams p) {
  constexpr int H = K - 1;
  const Mamba2ConvItem item = p.items[blockIdx.x];
  const int c = blockIdx.y * blockDim.x + threadIdx.x;
  if (c >= p.conv_dim) return;
  const __nv_bfloat16* proj = static_cast<const __nv_bfloat16*>(p.proj) + p.in_offset + c;
  const float in_bias = p.in_bias ? p.in_bias[c] : 0.0f;
  auto input = [&](int j) {  // j: token index relative to the request's first token, >= 0
    return ToFloat(proj[static_cast<int64_t>(item.first_token + j) * p.proj_stride]) + in_bias;
  };
  float* window = p.conv_state + static_cast<int64_t>(item.slot) * H * p.conv_dim + c;
  float w[K];
#pragma unroll
  for (int k = 0; k < K; ++k) w[k] = p.weight[static_cast<int64_t>(c) * K + k];
  const float bias = p.bias ? p.bias[c] : 0.0f;
  float hist[H > 0 ? H : 1];
#pragma unroll
  for (int i = 0; i < H; ++i) {
    const int j = item.segment_begin - H + i;
    hist[i] = j >= 0 ? input(j) : (item.fresh ? 0.0f : window[(H + j) * p.conv_dim]);
  }
  float old[H > 0 ? H : 1];
#pragma unroll
  for (int i = 0; i < H; ++i) old[i] = hist[i];
  __nv_bfloat16* out = static_cast<__nv_bfloat16*>(p.out) + c;
  for (int t = 0; t < item.segment_len; ++t) {
    const int j = item.segment_begin + t;
    const float x = input(j);
    float acc = bias + w[H] * x;
#pragma unroll
    for (int k = 0; k < H; ++k) acc += w[k] * hist[k];
    out[static_cast<int64_t>(item.first_token + j) * p.conv_dim] =
        FromFloat<__nv_bfloat16>(Silu(acc));
#pragma unroll
    for (int k = 0; k + 1 < H; ++k) hist[k] = hist[k + 1];
    if constexpr (H > 0) hist[H - 1] = x;
  }
  if (item.segment_begin == 0) {
    // New window: the last H inputs of the request, oldest first (from the old window when the
    // request has fewer than H tokens this step).
#pragma unroll
    for (int r = 0; r < H; ++r) {
      const int j = item.num_tokens - H + r;
      float v = 0.0f;
      if (j >= 0) {
        v = input(j);
      } else {
#pragma unroll
        for (int i = 0; i < H; ++i)
          if (i == H + j) v = old[i];
      }
      window[r * p.conv_dim] = v;
    }
  }
}

__global__ void __launch_bounds__(256) Mamba2GatedNormKernel(const Mamba2GatedNormParams p) {
  __shared__ float scratch[32];
  const int64_t t = blockIdx.x;
  const int base = blockIdx.y * p.group_width;
  const float* y = p.y + t * p.inner + base;
  const __nv_bfloat16* z = static_cast<const __nv_bfloat16*>(p.z) + t * p.z_stride + base;
  auto gated = [&](int i) {
    const float zi = ToFloat(z[i]) + (p.z_bias ? p.z_bias[base + i] : 0.0f);
    return y[i] * Silu(zi);
  };
  float sum = 0.0f;
  for (int i = threadIdx.x; i < p.group_width; i += blockDim.x) {
    const float v = gated(i);
    sum += v * v;
  }
  const float total = BlockSum(sum, scratch);
  const float inv = rsqrtf(total / p.group_width + p.eps);
  __nv_bfloat16* out = static_cast<__nv_bfloat16*>(p.out) + t * p.inner + base;
  for (int i = threadIdx.x; i < p.group_width; i += blockDim.x)
    out[i] = FromFloat<__nv_bfloat16>(gated(i) * inv * p.weight[base + i]);
}

}  // namespace

void LaunchMamba2Conv(const Mamba2ConvParams& p, cudaStream_t stream) {
  if (p.num_items == 0) return;
  const dim3 grid(p.num_items, (p.conv_dim + 127) / 128);
  switch (p.kernel) {
    case 1:
      Mamba2ConvKernel<1><<<grid, 128, 0, stream>>>(p);
      break;
    case 2:
      Mamba2ConvKernel<2><<<grid, 128, 0, stream>>>(p);
      break;
    case 3:
      Mamba2ConvKernel<3><<<grid, 128, 0, stream>>>(p);
      break;
    case 4:
      Mamba2ConvKernel<4><<<grid, 128, 0, stream>>>(p);
      break;
    case 5:
      Mamba2ConvKernel<5><<<grid, 128, 0, stream>>>(p);
      break;
    case 6:
      Mamba2ConvKernel<6><<<grid, 128, 0, stream>>>(p);
      break;
    case 7:
      Mamba2ConvKernel<7><<<grid, 128, 0, stream>>>(p);
      break;
    case 8:
      Mamba2ConvKernel<8><<<grid, 128, 0, stream>>>(p);
      break;
    default:
      break;
  }
}

void LaunchMamba2GatedNorm(const Mamba2GatedNormParams& p, cudaStream_t stream) {
  if (p.num_tokens == 0) return;
  const dim3 grid(p.num_tokens, p.inner / p.group_width);
  Mamba2GatedNormKernel<<<grid, 256, 0, stream>>>(p);
}

}  // namespace junction::cuda
