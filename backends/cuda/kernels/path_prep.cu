// PaTH preparation kernels: w / beta / log gate from the projections (short conv, SiLU, l2norm,
// conv window update), V and F into the cache, and the per-UT-block preprocessing (T_beta by
// forward substitution in fp32 shared memory; W, W2, W3, M, K' to the workspace in bf16).
#include <cmath>

#include "backends/cuda/kernels/cuda_types.cuh"
#include "backends/cuda/kernels/path_attention.h"
#include "backends/cuda/kernels/path_mma.h"

namespace junction::cuda {
namespace {

using path::Bf16;
constexpr int kB = kPathBlock;
constexpr int kMaxPast = 8;

// The pre-conv w input of channel c at chunk-relative index tau (tau < 0: the conv window).
__device__ __forceinline__ float RawW(const PathPrepareWParams& p, const PathChunkDesc& chunk,
                                      int tau, int c, int kv_dim, int past) {
  if (tau < 0) {
    if (chunk.num_computed == 0 || p.conv_state == nullptr) return 0.0f;
    return p.conv_state[(int64_t{chunk.state_slot} * kv_dim + c) * past + past + tau];
  }
  const float* row = p.aux + int64_t{chunk.q_start + tau} * p.aux_stride;
  if (p.w_up == nullptr) return row[c];
  const float* up = p.w_up + int64_t{c} * p.w_cols;
  float acc = 0.0f;
  for (int r = 0; r < p.w_cols; ++r) acc += row[r] * up[r];
  return acc;
}

// One (token, kv head) per CTA of head_dim threads.
__global__ void PathPrepareWKernel(const PathPrepareWParams p) {
  __shared__ float scratch[32];
  const int t = blockIdx.x, g = blockIdx.y, tid = threadIdx.x;
  const int d = p.head_dim, kv_dim = p.num_kv_heads * d;
  const int c = g * d + tid;
  const PathChunkDesc chunk = p.chunks[p.token_chunks[t]];
  const int i = t - chunk.q_start;
  float y;
  if (p.conv != nullptr) {
    const int past = p.conv_kernel - 1;
    float acc = 0.0f;
    for (int k = 0; k < p.conv_kernel; ++k)
      acc += p.conv[int64_t{c} * p.conv_kernel + k] * RawW(p, chunk, i - past + k, c, kv_dim, past);
    y = acc / (1.0f + expf(-acc));
  } else {
    y = RawW(p, chunk, i, c, kv_dim, 0);
  }
  const float sum = BlockSum(y * y, scratch);
  p.w[int64_t{t} * kv_dim + c] = y * (1.0f / sqrtf(sum + 1e-6f));
  const float* row = p.aux + int64_t{t} * p.aux_stride + p.w_cols;
  if (tid == 0) {
    const float x = row[g] + p.bt_bias[g];
    p.beta[int64_t{t} * p.num_kv_heads + g] = 2.0f / (1.0f + expf(-x));
  }
  const int group = p.num_heads / p.num_kv_heads;
  if (p.log_gate != nullptr && tid < group) {
    const int h = g * group + tid;
    const float x = row[p.num_kv_heads + h] + p.g_bias[h];
    p.log_gate[int64_t{t} * p.num_heads + h] = fminf(x, 0.0f) - log1pf(expf(-fabsf(x)));
  }
}

// Moves each chunk's conv window to its last conv_kernel - 1 inputs (after PrepareW read it).
__global__ void PathConvStateKernel(const PathPrepareWParams p) {
  const int kv_dim = p.num_kv_heads * p.head_dim;
  const int c = blockIdx.y * blockDim.x + threadIdx.x;
  if (c >= kv_dim) return;
  const PathChunkDesc chunk = p.chunks[blockIdx.x];
  const int past = p.conv_kernel - 1;
  float next[kMaxPast];
#pragma unroll
  for (int k = 0; k < kMaxPast; ++k)
    if (k < past) next[k] = RawW(p, chunk, chunk.q_len - past + k, c, kv_dim, past);
  float* window = p.conv_state + (int64_t{chunk.state_slot} * kv_dim + c) * past;
#pragma unroll
  for (int k = 0; k < kMaxPast; ++k)
    if (k < past) window[k] = next[k];
}

// V rows of every token into the cache (16 bytes per thread).
__global__ void PathStoreValuesKernel(const PathParams p) {
  const int chunks_per_token = p.num_kv_heads * p.head_dim / 8;
  const int64_t idx = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (idx >= int64_t{p.num_tokens} * chunks_per_token) return;
  const int64_t t = idx / chunks_per_token;
  const int ch = static_cast<int>(idx % chunks_per_token);
  const Bf16* src = static_cast<const Bf16*>(p.qkv) + t * p.qkv_stride +
                    int64_t{p.num_heads + p.num_kv_heads} * p.head_dim + ch * 8;
  Bf16* dst = static_cast<Bf16*>(p.v_cache) + p.slots[t] * p.num_kv_heads * p.head_dim + ch * 8;
  *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src);
}

// F_i = F_{num_computed - 1} + cumsum(log gate) per (chunk, head): into p.forget and the cache.
__global__ void PathForgetScanKernel(const PathParams p) {
  __shared__ float warp_sums[32];
  const PathChunkDesc chunk = p.chunks[blockIdx.x];
  const int head = blockIdx.y;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  float running = 0.0f;
  if (chunk.num_computed > 0) {
    const int pos = chunk.num_computed - 1;
    const int32_t* table = p.block_tables + chunk.block_table_offset;
    running = p.f_cache[(int64_t{table[pos / p.block_size]} * p.block_size + pos % p.block_size) *
                            p.num_heads + head];
  }
  for (int base = 0; base < chunk.q_len; base += blockDim.x) {
    const int i = base + tid;
    const int64_t token = chunk.q_start + i;
    float x = i < chunk.q_len ? p.log_gate[token * p.num_heads + head] : 0.0f;
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
      const float y = __shfl_up_sync(0xffffffffu, x, off);
      if (lane >= off) x += y;
    }
    if (lane == 31) warp_sums[warp] = x;
    __syncthreads();
    float prefix = 0.0f, total = 0.0f;
    for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) {
      if (w < warp) prefix += warp_sums[w];
      total += warp_sums[w];
    }
    if (i < chunk.q_len) {
      const float f = running + prefix + x;
      p.forget[token * p.num_heads + head] = f;
      p.f_cache[p.slots[token] * p.num_heads + head] = f;
    }
    running += total;
    __syncthreads();
  }
}

template <int D>
struct PrepSmem {
  static constexpr int kRow = D + 1;   // padded rows: column walks hit distinct banks
  static constexpr int kSq = kB + 1;
  static constexpr size_t kFloats = 2 * kB * kRow + 3 * kB * kSq + kB;
  static constexpr size_t kBytes = kFloats * sizeof(float);
};

// One (UT block, kv head) per CTA of 256 threads.
template <int D>
__global__ void __launch_bounds__(256) PathBlockPrepKernel(const PathParams p) {
  using S = PrepSmem<D>;
  constexpr int kRow = S::kRow, kSq = S::kSq, kThreads = 256;
  extern __shared__ float sm[];
  float* sw = sm;                  // [64][kRow]
  float* sk = sw + kB * kRow;      // [64][kRow]
  float* sg = sk + kB * kRow;      // [64][kSq]: W W^T, later M
  float* ssl = sg + kB * kSq;      // [64][kSq]: strict_lower(W K^T)
  float* st = ssl + kB * kSq;      // [64][kSq]: T_beta
  float* sbeta = st + kB * kSq;    // [64]
  const PathTileItem item = p.blocks[blockIdx.x];
  const int g = blockIdx.y, tid = threadIdx.x;
  const PathChunkDesc chunk = p.chunks[item.chunk];
  const int t0 = chunk.q_start + item.tile * kB;
  const int len = min(kB, chunk.q_len - item.tile * kB);
  const Bf16* qkv = static_cast<const Bf16*>(p.qkv);
  const int64_t k_col = int64_t{p.num_heads + g} * D;

  for (int i = tid; i < kB * D; i += kThreads) {
    const int r = i / D, c = i % D;
    const bool valid = r < len;
    const int64_t t = t0 + r;
    sw[r * kRow + c] = valid ? p.w[(t * p.num_kv_heads + g) * D + c] : 0.0f;
    sk[r * kRow + c] = valid ? ToFloat(qkv[t * p.qkv_stride + k_col + c]) : 0.0f;
  }
  for (int r = tid; r < kB; r += kThreads)
    sbeta[r] = r < len ? p.beta[int64_t{t0 + r} * p.num_kv_heads + g] : 0.0f;
  __syncthreads();
  for (int i = tid; i < kB * kB; i += kThreads) {
    const int a = i / kB, x = i % kB;
    float gw = 0.0f, gk = 0.0f;
    if (x < a) {
      const float* wa = sw + a * kRow;
      const float* wx = sw + x * kRow;
      const float* kx = sk + x * kRow;
      for (int c = 0; c < D; ++c) {
        gw += wa[c] * wx[c];
        gk += wa[c] * kx[c];
      }
    }
    sg[a * kSq + x] = gw;
    ssl[a * kSq + x] = gk;
  }
  __syncthreads();
  // T[a][x] = -beta_a sum_{x <= b < a} G[a][b] T[b][x], T[a][a] = beta_a: 4 threads per column.
  {
    const int x = tid / 4, part = tid % 4;
    for (int a = 0; a < kB; ++a) {
      float sum = 0.0f;
      if (x < a)
        for (int b = x + part; b < a; b += 4) sum += sg[a * kSq + b] * st[b * kSq + x];
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      if (part == 0) st[a * kSq + x] = x < a ? -sbeta[a] * sum : (x == a ? sbeta[a] : 0.0f);
      __syncthreads();
    }
  }
  // M[r][j] = sum_{j < a <= r} T[r][a] SL[a][j] (into sg, and to the workspace).
  const int64_t ws_block = int64_t{chunk.first_block + item.tile} * p.num_kv_heads + g;
  Bf16* ws_m = static_cast<Bf16*>(p.ws_m) + ws_block * kB * kB;
  for (int i = tid; i < kB * kB; i += kThreads) {
    const int r = i / kB, j = i % kB;
    float acc = 0.0f;
    for (int a = j + 1; a <= r; ++a) acc += st[r * kSq + a] * ssl[a * kSq + j];
    sg[r * kSq + j] = acc;
    ws_m[i] = FromFloat<Bf16>(acc);
  }
  __syncthreads();
  const int64_t ws = ws_block * kB * D;
  Bf16* ws_w = static_cast<Bf16*>(p.ws_w) + ws;
  Bf16* ws_w2 = static_cast<Bf16*>(p.ws_w2) + ws;
  Bf16* ws_w3 = static_cast<Bf16*>(p.ws_w3) + ws;
  Bf16* ws_k = static_cast<Bf16*>(p.ws_k) + ws;
  for (int i = tid; i < kB * D; i += kThreads) {
    const int r = i / D, c = i % D;
    float w2 = 0.0f, w3 = 0.0f, kp = sk[r * kRow + c];
    for (int b = 0; b <= r; ++b) w2 += st[r * kSq + b] * sw[b * kRow + c];
    for (int b = r; b < kB; ++b) w3 += st[b * kSq + r] * sw[b * kRow + c];
    for (int b = r + 1; b < kB; ++b) kp -= sg[b * kSq + r] * sw[b * kRow + c];
    ws_w[i] = FromFloat<Bf16>(sw[r * kRow + c]);
    ws_w2[i] = FromFloat<Bf16>(w2);
    ws_w3[i] = FromFloat<Bf16>(w3);
    ws_k[i] = FromFloat<Bf16>(kp);
  }
}

template <int D>
void LaunchBlockPrep(const PathParams& p, cudaStream_t stream) {
  constexpr size_t smem = PrepSmem<D>::kBytes;
  static const bool configured = [] {
    cudaFuncSetAttribute(PathBlockPrepKernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                         smem);
    return true;
  }();
  (void)configured;
  PathBlockPrepKernel<D><<<dim3(p.num_blocks, p.num_kv_heads), 256, smem, stream>>>(p);
}

}  // namespace

void LaunchPathStore(const PathParams& p, cudaStream_t stream) {
  if (p.num_tokens == 0) return;
  const int64_t total = int64_t{p.num_tokens} * p.num_kv_heads * p.head_dim / 8;
  PathStoreValuesKernel<<<static_cast<unsigned>((total + 255) / 256), 256, 0, stream>>>(p);
  if (p.log_gate != nullptr && p.num_chunks > 0)
    PathForgetScanKernel<<<dim3(p.num_chunks, p.num_heads), 256, 0, stream>>>(p);
}

void LaunchPathPrep(const PathParams& p, cudaStream_t stream) {
  if (p.num_blocks == 0) return;
  if (p.head_dim == 64) LaunchBlockPrep<64>(p, stream);
  if (p.head_dim == 128) LaunchBlockPrep<128>(p, stream);
}

void LaunchPathPrepareW(const PathPrepareWParams& p, cudaStream_t stream) {
  if (p.num_tokens == 0) return;
  PathPrepareWKernel<<<dim3(p.num_tokens, p.num_kv_heads), p.head_dim, 0, stream>>>(p);
  if (p.conv != nullptr && p.conv_state != nullptr && p.num_chunks > 0) {
    const int kv_dim = p.num_kv_heads * p.head_dim;
    PathConvStateKernel<<<dim3(p.num_chunks, (kv_dim + 127) / 128), 128, 0, stream>>>(p);
  }
}

}  // namespace junction::cuda
