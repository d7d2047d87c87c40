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
  // fp32 W rows padded by 4 floats: the row-strided float4 reads of the register tiles below
  // (rows tx + 16 j, one 16-byte chunk per lane) then cover all 32 banks per quarter warp.
  static constexpr int kRow = D + 4;
  static constexpr int kKRow = D + 4;  // bf16 K rows: 8-byte reads of 16 lanes hit 32 banks
  static constexpr int kSq = kB + 4;   // [64][64] squares with 16-byte aligned rows
  static constexpr size_t kBytes =
      (size_t{kB} * kRow + 3 * size_t{kB} * kSq + kB) * sizeof(float) + size_t{kB} * kKRow * 2;
};

__device__ __forceinline__ float4 Bf16x4(uint2 v) {
  const float2 a = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&v.x));
  const float2 b = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&v.y));
  return make_float4(a.x, a.y, b.x, b.y);
}

__device__ __forceinline__ uint2 PackBf16x4(float a, float b, float c, float d) {
  return make_uint2(path::PackBf16(a, b), path::PackBf16(c, d));
}

__device__ __forceinline__ float Lane(const float4& v, int i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

// One (UT block, kv head) per CTA of 256 threads, two CTAs per SM (~101 KB of shared memory at
// d=128). Every product is an fp32 register tile of 4 x 4 outputs per thread per matrix fed by
// 16-byte shared-memory reads (the shared-memory pipe, not the FMA units, bounded the earlier
// one-output-per-thread loops); the forward substitution syncs each warp on its own columns.
template <int D>
__global__ void __launch_bounds__(256, 2) PathBlockPrepKernel(const PathParams p) {
  using S = PrepSmem<D>;
  constexpr int kRow = S::kRow, kKRow = S::kKRow, kSq = S::kSq, kThreads = 256;
  extern __shared__ float sm[];
  float* sw = sm;                  // [64][kRow]: W
  float* sg = sw + kB * kRow;      // [64][kSq]: strict_lower(W W^T), later M
  float* ssl = sg + kB * kSq;      // [64][kSq]: strict_lower(W K^T)
  float* st = ssl + kB * kSq;      // [64][kSq]: T_beta
  float* sbeta = st + kB * kSq;    // [64]
  Bf16* sk = reinterpret_cast<Bf16*>(sbeta + kB);  // [64][kKRow]: K
  const PathTileItem item = p.blocks[blockIdx.x];
  const int g = blockIdx.y, tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const PathChunkDesc chunk = p.chunks[item.chunk];
  const int t0 = chunk.q_start + item.tile * kB;
  const int len = min(kB, chunk.q_len - item.tile * kB);
  const Bf16* qkv = static_cast<const Bf16*>(p.qkv);
  const int64_t k_col = int64_t{p.num_heads + g} * D;

  for (int i = tid; i < kB * D / 4; i += kThreads) {
    const int r = i / (D / 4), c = (i % (D / 4)) * 4;
    float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (r < len)
      v = *reinterpret_cast<const float4*>(p.w + (int64_t{t0 + r} * p.num_kv_heads + g) * D + c);
    *reinterpret_cast<float4*>(sw + r * kRow + c) = v;
  }
  for (int i = tid; i < kB * D / 8; i += kThreads) {
    const int r = i / (D / 8), c = (i % (D / 8)) * 8;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (r < len) v = *reinterpret_cast<const uint4*>(qkv + int64_t{t0 + r} * p.qkv_stride + k_col + c);
    *reinterpret_cast<uint2*>(sk + r * kKRow + c) = make_uint2(v.x, v.y);
    *reinterpret_cast<uint2*>(sk + r * kKRow + c + 4) = make_uint2(v.z, v.w);
  }
  for (int r = tid; r < kB; r += kThreads)
    sbeta[r] = r < len ? p.beta[int64_t{t0 + r} * p.num_kv_heads + g] : 0.0f;
  __syncthreads();

  // G = strict_lower(W W^T), SL = strict_lower(W K^T): rows a = ty + 16 i, columns x = tx + 16 j.
  {
    float gw[4][4] = {}, gk[4][4] = {};
#pragma unroll 2
    for (int c = 0; c < D; c += 4) {
      float4 wa[4], wx[4], kx[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        wa[i] = *reinterpret_cast<const float4*>(sw + (ty + 16 * i) * kRow + c);
        wx[i] = *reinterpret_cast<const float4*>(sw + (tx + 16 * i) * kRow + c);
        kx[i] = Bf16x4(*reinterpret_cast<const uint2*>(sk + (tx + 16 * i) * kKRow + c));
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          gw[i][j] += wa[i].x * wx[j].x + wa[i].y * wx[j].y + wa[i].z * wx[j].z + wa[i].w * wx[j].w;
          gk[i][j] += wa[i].x * kx[j].x + wa[i].y * kx[j].y + wa[i].z * kx[j].z + wa[i].w * kx[j].w;
        }
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int a = ty + 16 * i, x = tx + 16 * j;
        sg[a * kSq + x] = x < a ? gw[i][j] : 0.0f;
        ssl[a * kSq + x] = x < a ? gk[i][j] : 0.0f;
      }
  }
  __syncthreads();
  // T[a][x] = -beta_a sum_{x <= b < a} G[a][b] T[b][x], T[a][a] = beta_a: 4 lanes per column.
  // Columns are independent, and a warp owns 8 of them: it syncs only itself between rows.
  {
    const int x = tid / 4, part = tid % 4;
    for (int a = 0; a < kB; ++a) {
      float sum = 0.0f;
      if (x < a)
        for (int b = x + part; b < a; b += 4) sum += sg[a * kSq + b] * st[b * kSq + x];
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      if (part == 0) st[a * kSq + x] = x < a ? -sbeta[a] * sum : (x == a ? sbeta[a] : 0.0f);
      __syncwarp();
    }
  }
  __syncthreads();
  // M = T SL (zero on and above the diagonal), into sg and the workspace: rows r = 4 ty + i,
  // columns j = tx + 16 jj; T[r][a] = 0 for a > r bounds the sum.
  const int64_t ws_block = int64_t{chunk.first_block + item.tile} * p.num_kv_heads + g;
  {
    Bf16* ws_m = static_cast<Bf16*>(p.ws_m) + ws_block * kB * kB;
    const int r0 = 4 * ty;
    float acc[4][4] = {};
    for (int a0 = 0; a0 <= r0; a0 += 4) {
      float4 t[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) t[i] = *reinterpret_cast<const float4*>(st + (r0 + i) * kSq + a0);
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        float slv[4];
#pragma unroll
        for (int jj = 0; jj < 4; ++jj) slv[jj] = ssl[(a0 + k) * kSq + tx + 16 * jj];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int jj = 0; jj < 4; ++jj) acc[i][jj] += Lane(t[i], k) * slv[jj];
      }
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int jj = 0; jj < 4; ++jj) {
        const int r = r0 + i, j = tx + 16 * jj;
        sg[r * kSq + j] = acc[i][jj];
        ws_m[r * kB + j] = FromFloat<Bf16>(acc[i][jj]);
      }
  }
  __syncthreads();
  // W2 = T W (b <= r), W3 = T^T W (b >= r), K' = K - M^T W (b > r): rows r = 4 ty + i, columns
  // c0 + e with c0 = 64 h + 4 tx.
  const int64_t ws = ws_block * kB * D;
  Bf16* ws_w = static_cast<Bf16*>(p.ws_w) + ws;
  Bf16* ws_w2 = static_cast<Bf16*>(p.ws_w2) + ws;
  Bf16* ws_w3 = static_cast<Bf16*>(p.ws_w3) + ws;
  Bf16* ws_k = static_cast<Bf16*>(p.ws_k) + ws;
  const int r0 = 4 * ty;
#pragma unroll 1
  for (int h = 0; h < D / 64; ++h) {
    const int c0 = 64 * h + 4 * tx;
    float w2[4][4] = {}, w3[4][4] = {}, mw[4][4] = {};
    for (int b0 = 0; b0 < kB; b0 += 4) {
      float4 wb[4];
#pragma unroll
      for (int k = 0; k < 4; ++k) wb[k] = *reinterpret_cast<const float4*>(sw + (b0 + k) * kRow + c0);
      if (b0 <= r0) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const float4 t = *reinterpret_cast<const float4*>(st + (r0 + i) * kSq + b0);
#pragma unroll
          for (int k = 0; k < 4; ++k) {
            const float tk = Lane(t, k);
            w2[i][0] += tk * wb[k].x;
            w2[i][1] += tk * wb[k].y;
            w2[i][2] += tk * wb[k].z;
            w2[i][3] += tk * wb[k].w;
          }
        }
      }
      if (b0 >= r0) {
#pragma unroll
        for (int k = 0; k < 4; ++k) {
          const float4 tc = *reinterpret_cast<const float4*>(st + (b0 + k) * kSq + r0);
          const float4 mc = *reinterpret_cast<const float4*>(sg + (b0 + k) * kSq + r0);
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            const float ti = Lane(tc, i), mi = Lane(mc, i);
            w3[i][0] += ti * wb[k].x;
            w3[i][1] += ti * wb[k].y;
            w3[i][2] += ti * wb[k].z;
            w3[i][3] += ti * wb[k].w;
            mw[i][0] += mi * wb[k].x;
            mw[i][1] += mi * wb[k].y;
            mw[i][2] += mi * wb[k].z;
            mw[i][3] += mi * wb[k].w;
          }
        }
      }
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int r = r0 + i;
      const float4 w = *reinterpret_cast<const float4*>(sw + r * kRow + c0);
      const float4 k = Bf16x4(*reinterpret_cast<const uint2*>(sk + r * kKRow + c0));
      *reinterpret_cast<uint2*>(ws_w + r * D + c0) = PackBf16x4(w.x, w.y, w.z, w.w);
      *reinterpret_cast<uint2*>(ws_w2 + r * D + c0) =
          PackBf16x4(w2[i][0], w2[i][1], w2[i][2], w2[i][3]);
      *reinterpret_cast<uint2*>(ws_w3 + r * D + c0) =
          PackBf16x4(w3[i][0], w3[i][1], w3[i][2], w3[i][3]);
      *reinterpret_cast<uint2*>(ws_k + r * D + c0) =
          PackBf16x4(k.x - mw[i][0], k.y - mw[i][1], k.z - mw[i][2], k.w - mw[i][3]);
    }
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
