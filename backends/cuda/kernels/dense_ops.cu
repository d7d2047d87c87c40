#include "backends/cuda/kernels/cuda_types.cuh"
#include "backends/cuda/kernels/dense_ops.h"
#include "backends/cuda/kernels/launch.cuh"

namespace junction::cuda {
namespace {

template <typename T>
__global__ void EmbeddingKernel(EmbeddingParams p) {
  DependentKernelPrologue();
  const int t = blockIdx.x;
  const T* row = static_cast<const T*>(p.table) + static_cast<int64_t>(p.ids[t]) * p.width;
  float* out = p.out + static_cast<int64_t>(t) * p.width;
  for (int i = threadIdx.x; i < p.width; i += blockDim.x) out[i] = ToFloat(row[i]) * p.multiplier;
}

template <typename T>
__global__ void AddRmsNormKernel(AddRmsNormParams p) {
  DependentKernelPrologue();
  __shared__ float scratch[32];
  const int r = blockIdx.x;
  const int64_t src_row = p.rows ? p.rows[r] : r;
  float* x = p.residual + src_row * p.width;
  const T* delta =
      p.delta ? static_cast<const T*>(p.delta) + src_row * p.width : nullptr;
  float sum = 0.0f;
  for (int i = threadIdx.x; i < p.width; i += blockDim.x) {
    float v = x[i];
    if (delta) {
      v += p.delta_scale * ToFloat(delta[i]);
      x[i] = v;
    }
    sum += v * v;
  }
  sum = BlockSum(sum, scratch);
  const float inv = rsqrtf(sum / p.width + p.eps);
  T* out = static_cast<T*>(p.out) + static_cast<int64_t>(r) * p.width;
  for (int i = threadIdx.x; i < p.width; i += blockDim.x) {
    const float w = p.plus_one ? 1.0f + p.weight[i] : p.weight[i];
    out[i] = FromFloat<T>(x[i] * inv * w);
  }
}

// The same over rows held in registers: 256 threads, each with kVec runs of 4 consecutive
// elements (16-byte residual loads and stores), so the row is read once and written once. Few
// rows (decode) make this kernel latency-bound, and the two-pass loop above costs ~6 us a row
// at width 4096 on an H100 (ncu, 2026-12-06). Requires width % 4 == 0 and width <= 1024 * kVec.
template <typename T, int kVec>
__global__ void __launch_bounds__(256) AddRmsNormRowKernel(AddRmsNormParams p) {
  DependentKernelPrologue();
  __shared__ float scratch[32];
  const int r = blockIdx.x;
  const int64_t src_row = p.rows ? p.rows[r] : r;
  float4* x = reinterpret_cast<float4*>(p.residual + src_row * p.width);
  const T* delta =
      p.delta ? static_cast<const T*>(p.delta) + src_row * p.width : nullptr;
  const int n4 = p.width / 4;
  float4 v[kVec];
  float sum = 0.0f;
#pragma unroll
  for (int j = 0; j < kVec; ++j) {
    const int i = threadIdx.x + j * 256;
    if (i >= n4) continue;
    v[j] = x[i];
    if (delta) {
      const T* d = delta + 4 * i;
      v[j].x += p.delta_scale * ToFloat(d[0]);
      v[j].y += p.delta_scale * ToFloat(d[1]);
      v[j].z += p.delta_scale * ToFloat(d[2]);
      v[j].w += p.delta_scale * ToFloat(d[3]);
      x[i] = v[j];
    }
    sum += v[j].x * v[j].x + v[j].y * v[j].y + v[j].z * v[j].z + v[j].w * v[j].w;
  }
  // The weight row is in flight during the reduction: at batch 1 it comes from HBM (the step's
  // weight stream has evicted it from L2), a round trip the kernel would otherwise add.
  const float4* weight = reinterpret_cast<const float4*>(p.weight);
  float4 w[kVec];
#pragma unroll
  for (int j = 0; j < kVec; ++j) {
    const int i = threadIdx.x + j * 256;
    if (i < n4) w[j] = weight[i];
  }
  sum = BlockSum(sum, scratch);
  const float inv = rsqrtf(sum / p.width + p.eps);
  T* out = static_cast<T*>(p.out) + static_cast<int64_t>(r) * p.width;
#pragma unroll
  for (int j = 0; j < kVec; ++j) {
    const int i = threadIdx.x + j * 256;
    if (i >= n4) continue;
    if (p.plus_one) w[j] = make_float4(1.0f + w[j].x, 1.0f + w[j].y, 1.0f + w[j].z, 1.0f + w[j].w);
    T* o = out + 4 * i;
    o[0] = FromFloat<T>(v[j].x * inv * w[j].x);
    o[1] = FromFloat<T>(v[j].y * inv * w[j].y);
    o[2] = FromFloat<T>(v[j].z * inv * w[j].z);
    o[3] = FromFloat<T>(v[j].w * inv * w[j].w);
  }
}

// Rotates x[0, rotary_dim) in place (HF rotate_half) at `position`: float32 angles as HF, or
// float64 angles and arithmetic (the CPU's ApplyRopeExactAngle) when `exact`.
__device__ void RotateHead(float* x, const PrepareQkvParams& p, int position, bool exact,
                           int lane) {
  const int half = p.rotary_dim / 2;
  for (int i = lane; i < half; i += 32) {
    const float a = x[i], b = x[i + half];
    if (exact) {
      double sn, c;
      sincos(static_cast<double>(p.inv_freq[i]) * static_cast<double>(position), &sn, &c);
      c *= p.attention_scaling;
      sn *= p.attention_scaling;
      x[i] = static_cast<float>(a * c - b * sn);
      x[i + half] = static_cast<float>(b * c + a * sn);
    } else {
      const float angle = p.inv_freq[i] * static_cast<float>(position);
      const float c = cosf(angle) * p.attention_scaling;
      const float sn = sinf(angle) * p.attention_scaling;
      x[i] = a * c - b * sn;
      x[i + half] = b * c + a * sn;
    }
  }
}

// One warp per (token, head) over the q, k and v heads of the fused projection; the head is
// staged in shared memory as float32 so the norm and the rotation see the biased values.
template <typename T>
__global__ void PrepareQkvKernel(PrepareQkvParams p, int max_head_dim) {
  DependentKernelPrologue();
  extern __shared__ float staged[];  // [warps][head_dim]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int heads_per_token = p.num_heads + 2 * p.num_kv_heads;
  const int64_t task = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + warp;
  if (task >= static_cast<int64_t>(p.num_tokens) * heads_per_token) return;
  const int t = static_cast<int>(task / heads_per_token);
  const int h = static_cast<int>(task % heads_per_token);
  const int d = p.head_dim;
  float* s = staged + warp * max_head_dim;
  // Column of head h in the fused row: gated q heads are 2 * d wide (query, then gate).
  const int q_head_cols = (p.output_gate ? 2 : 1) * d;
  const int q_cols = p.num_heads * q_head_cols;
  const int col = h < p.num_heads ? h * q_head_cols : q_cols + (h - p.num_heads) * d;
  const T* src = static_cast<const T*>(p.qkv) +
                 static_cast<int64_t>(t) * (q_cols + 2 * p.num_kv_heads * d) + col;
  for (int i = lane; i < d; i += 32) s[i] = ToFloat(src[i]) + (p.bias ? p.bias[col + i] : 0.0f);
  __syncwarp();
  const bool is_q = h < p.num_heads;
  const bool is_k = !is_q && h < p.num_heads + p.num_kv_heads;
  if ((is_q || is_k) && p.q_norm) {
    float sum = 0.0f;
    for (int i = lane; i < d; i += 32) sum += s[i] * s[i];
    sum = WarpSum(sum);
    const float inv = rsqrtf(sum / d + p.norm_eps);
    const float* w = is_q ? p.q_norm : p.k_norm;
    __syncwarp();
    for (int i = lane; i < d; i += 32) s[i] = s[i] * inv * (p.norm_plus_one ? 1.0f + w[i] : w[i]);
    __syncwarp();
  }
  if ((is_q || is_k) && p.inv_freq) {
    const bool exact = p.exact_rope && p.exact_rope[t] != 0;
    const int sink_position = is_q && p.sink_positions ? p.sink_positions[t] : -1;
    if (sink_position >= 0) {
      // The sink query: rotated from the same pre-RoPE values, straight to its own output.
      T* sink = static_cast<T*>(p.q_sink_out) + (static_cast<int64_t>(t) * p.num_heads + h) * d;
      const int half = p.rotary_dim / 2;
      for (int i = lane; i < half; i += 32) {
        double sn, c;
        sincos(static_cast<double>(p.inv_freq[i]) * static_cast<double>(sink_position), &sn, &c);
        c *= p.attention_scaling;
        sn *= p.attention_scaling;
        sink[i] = FromFloat<T>(static_cast<float>(s[i] * c - s[i + half] * sn));
        sink[i + half] = FromFloat<T>(static_cast<float>(s[i + half] * c + s[i] * sn));
      }
      for (int i = p.rotary_dim + lane; i < d; i += 32) sink[i] = FromFloat<T>(s[i]);
    }
    __syncwarp();
    RotateHead(s, p, p.positions[t], exact, lane);
    __syncwarp();
  }
  T* dst;
  if (is_q) {
    dst = static_cast<T*>(p.q_out) + (static_cast<int64_t>(t) * p.num_heads + h) * d;
  } else {
    const int kv_head = is_k ? h - p.num_heads : h - p.num_heads - p.num_kv_heads;
    T* cache = static_cast<T*>(is_k ? p.k_cache : p.v_cache);
    dst = cache + (p.slots[t] * p.num_kv_heads + kv_head) * d;
  }
  for (int i = lane; i < d; i += 32) dst[i] = FromFloat<T>(s[i]);
}

template <typename T>
__global__ void OutputGateKernel(OutputGateParams p) {
  DependentKernelPrologue();
  const int64_t width = static_cast<int64_t>(p.num_heads) * p.head_dim;
  const int64_t total = p.num_tokens * width;
  T* x = static_cast<T*>(p.x);
  const T* qkv = static_cast<const T*>(p.qkv);
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t t = i / width, c = i % width;
    const int64_t col = (c / p.head_dim) * 2 * p.head_dim + p.head_dim + c % p.head_dim;
    const float g = ToFloat(qkv[t * p.qkv_width + col]) + (p.bias ? p.bias[col] : 0.0f);
    x[i] = FromFloat<T>(ToFloat(x[i]) / (1.0f + __expf(-g)));
  }
}

template <typename T>
__global__ void SwiGluKernel(SwiGluParams p) {
  DependentKernelPrologue();
  const int64_t total = p.rows * p.width;
  const T* in = static_cast<const T*>(p.gate_up);
  T* out = static_cast<T*>(p.out);
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / p.width, c = i % p.width;
    const float g = ToFloat(in[r * 2 * p.width + c]);
    const float u = ToFloat(in[r * 2 * p.width + p.width + c]);
    out[i] = FromFloat<T>(g / (1.0f + __expf(-g)) * u);
  }
}

template <typename T>
__global__ void Relu2Kernel(T* x, int64_t count) {
  DependentKernelPrologue();
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float v = fmaxf(ToFloat(x[i]), 0.0f);
    x[i] = FromFloat<T>(v * v);
  }
}

template <typename T>
__global__ void AddBiasKernel(T* x, const float* bias, int64_t rows, int64_t width) {
  DependentKernelPrologue();
  const int64_t total = rows * width;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    x[i] = FromFloat<T>(ToFloat(x[i]) + bias[i % width]);
}

int GridFor(int64_t total, int threads) {
  return static_cast<int>(std::min<int64_t>((total + threads - 1) / threads, 65536));
}

}  // namespace

void LaunchEmbedding(const EmbeddingParams& p, DType dtype, cudaStream_t stream) {
  if (p.num_tokens == 0) return;
  JUNCTION_DISPATCH_HALF(dtype, LaunchKernel(EmbeddingKernel<T>, p.num_tokens, 256, 0, stream, p));
}

void LaunchAddRmsNorm(const AddRmsNormParams& p, DType dtype, cudaStream_t stream) {
  if (p.num_rows == 0) return;
  // The register kernel needs 16-byte aligned rows: width % 4 == 0 keeps every row of the
  // float32 residual and of the weight aligned (their bases come from cudaMalloc).
  if (p.width % 4 == 0 && p.width <= 1024 * 8) {
    if (p.width <= 1024 * 2) {
      JUNCTION_DISPATCH_HALF(dtype, LaunchKernel(AddRmsNormRowKernel<T, 2>, p.num_rows, 256, 0, stream, p));
    } else if (p.width <= 1024 * 4) {
      JUNCTION_DISPATCH_HALF(dtype, LaunchKernel(AddRmsNormRowKernel<T, 4>, p.num_rows, 256, 0, stream, p));
    } else {
      JUNCTION_DISPATCH_HALF(dtype, LaunchKernel(AddRmsNormRowKernel<T, 8>, p.num_rows, 256, 0, stream, p));
    }
    return;
  }
  const int threads = p.width >= 1024 ? 1024 : (p.width + 31) / 32 * 32;
  JUNCTION_DISPATCH_HALF(dtype, LaunchKernel(AddRmsNormKernel<T>, p.num_rows, threads, 0, stream, p));
}

void LaunchPrepareQkv(const PrepareQkvParams& p, DType dtype, cudaStream_t stream) {
  const int64_t tasks = static_cast<int64_t>(p.num_tokens) * (p.num_heads + 2 * p.num_kv_heads);
  if (tasks == 0) return;
  constexpr int kWarps = 8;
  const int blocks = static_cast<int>((tasks + kWarps - 1) / kWarps);
  const size_t smem = sizeof(float) * kWarps * p.head_dim;
  JUNCTION_DISPATCH_HALF(dtype,
                         LaunchKernel(PrepareQkvKernel<T>, blocks, kWarps * 32, smem, stream, p, p.head_dim));
}

void LaunchOutputGate(const OutputGateParams& p, DType dtype, cudaStream_t stream) {
  const int64_t total = static_cast<int64_t>(p.num_tokens) * p.num_heads * p.head_dim;
  if (total == 0) return;
  JUNCTION_DISPATCH_HALF(dtype, LaunchKernel(OutputGateKernel<T>, GridFor(total, 256), 256, 0, stream, p));
}

void LaunchSwiGlu(const SwiGluParams& p, DType dtype, cudaStream_t stream) {
  if (p.rows * p.width == 0) return;
  JUNCTION_DISPATCH_HALF(dtype,
                         LaunchKernel(SwiGluKernel<T>, GridFor(p.rows * p.width, 256), 256, 0, stream, p));
}

void LaunchRelu2(void* x, int64_t count, DType dtype, cudaStream_t stream) {
  if (count == 0) return;
  JUNCTION_DISPATCH_HALF(dtype, LaunchKernel(Relu2Kernel<T>, GridFor(count, 256), 256, 0, stream,
                                             static_cast<T*>(x), count));
}

void LaunchAddBias(void* x, const float* bias, int64_t rows, int64_t width, DType dtype,
                   cudaStream_t stream) {
  if (rows * width == 0) return;
  JUNCTION_DISPATCH_HALF(dtype, LaunchKernel(AddBiasKernel<T>, GridFor(rows * width, 256), 256, 0,
                                             stream, static_cast<T*>(x), bias, rows, width));
}

}  // namespace junction::cuda
