// PaTH prefill (query carried backward through UT blocks), key finalize (keys carried forward)
// and the fused in-place decode; see path_attention.h for the math. Tiles of 64 rows are
// loaded with cp.async into XOR-swizzled shared memory and multiplied with mma.sync; each of
// the 4 warps of a CTA owns 16 rows and keeps them (q^ or k) in fp32 registers.
#include <cfloat>

#include "backends/cuda/kernels/cuda_types.cuh"
#include "backends/cuda/kernels/path_attention.h"
#include "backends/cuda/kernels/path_mma.h"

namespace junction::cuda {
namespace {

using path::Bf16;
using path::CpAsync16;
using path::CpAsyncCommit;
using path::CpAsyncWait;
using path::MmaRows;
using path::PackA;
using path::Swizzle;

constexpr int kB = kPathBlock;
constexpr int kThreads = 128;
constexpr float kLog2e = 1.4426950408889634f;

// sc[16 x 64] += rows . sk^T and (kWithW) u[16 x 64] += rows . sw^T, the A operand packed to
// bf16 from the warp's fp32 rows one k-step at a time (keeps no bf16 copy in registers).
template <int D, bool kWithK, bool kWithW>
__device__ __forceinline__ void RowProducts(float (&sc)[8][4], float (&u)[8][4],
                                            const float (&x)[D / 8][4], const Bf16* sk,
                                            const Bf16* sw, int lane) {
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    uint32_t a[4];
    a[0] = path::PackBf16(x[2 * kk][0], x[2 * kk][1]);
    a[1] = path::PackBf16(x[2 * kk][2], x[2 * kk][3]);
    a[2] = path::PackBf16(x[2 * kk + 1][0], x[2 * kk + 1][1]);
    a[3] = path::PackBf16(x[2 * kk + 1][2], x[2 * kk + 1][3]);
#pragma unroll
    for (int np = 0; np < 4; ++np) {
      const int off =
          Swizzle<D>(np * 16 + (lane & 7) + ((lane >> 4) << 3), kk * 2 + ((lane >> 3) & 1));
      uint32_t b[4];
      if constexpr (kWithK) {
        path::Ldmatrix4(b, sk + off);
        path::Mma(sc[2 * np], a, b[0], b[1]);
        path::Mma(sc[2 * np + 1], a, b[2], b[3]);
      }
      if constexpr (kWithW) {
        path::Ldmatrix4(b, sw + off);
        path::Mma(u[2 * np], a, b[0], b[1]);
        path::Mma(u[2 * np + 1], a, b[2], b[3]);
      }
    }
  }
}

template <int N>
__device__ __forceinline__ void Zero(float (&c)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i) c[i][0] = c[i][1] = c[i][2] = c[i][3] = 0.0f;
}

// A warp's 16 rows x D of a bf16 matrix into accumulator layout (rows r0, r0 + 8; zero where
// `src[h]` is null).
template <int D>
__device__ __forceinline__ void LoadRows(float (&x)[D / 8][4], const Bf16* const (&src)[2],
                                         int lane) {
#pragma unroll
  for (int h = 0; h < 2; ++h)
#pragma unroll
    for (int nt = 0; nt < D / 8; ++nt) {
      float2 v = make_float2(0.0f, 0.0f);
      if (src[h])
        v = __bfloat1622float2(
            *reinterpret_cast<const __nv_bfloat162*>(src[h] + nt * 8 + (lane % 4) * 2));
      x[nt][2 * h] = v.x;
      x[nt][2 * h + 1] = v.y;
    }
}

template <int D>
__device__ __forceinline__ void StoreRows(const float (&x)[D / 8][4], Bf16* const (&dst)[2],
                                          float (&scale)[2], int lane) {
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    if (!dst[h]) continue;
#pragma unroll
    for (int nt = 0; nt < D / 8; ++nt)
      *reinterpret_cast<uint32_t*>(dst[h] + nt * 8 + (lane % 4) * 2) =
          path::PackBf16(x[nt][2 * h] * scale[h], x[nt][2 * h + 1] * scale[h]);
  }
}

template <int D>
struct PrefillSmem {
  static constexpr int kTile = kB * D;
  static constexpr int kStages = D == 128 ? 1 : 2;
  // Per stage: K, V, W, W2 [64][D], M [64][64] (bf16), F [64] (float).
  static constexpr size_t kStageBytes = (4 * kTile + kB * kB) * 2 + kB * 4;
  static constexpr size_t kBytes = kStages * kStageBytes;
};

template <int D>
__global__ void __launch_bounds__(kThreads) PathPrefillKernel(const PathParams p) {
  using S = PrefillSmem<D>;
  constexpr int kC = D / 8;
  constexpr int kTile = S::kTile;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  const PathTileItem item = p.prefill_items[blockIdx.x];
  const int head = blockIdx.y;
  const PathChunkDesc chunk = p.chunks[item.chunk];
  const int group = p.num_heads / p.num_kv_heads;
  const int g = head / group;
  const int b = item.tile;
  const int p0 = chunk.num_computed;
  const int len_b = min(kB, chunk.q_len - b * kB);
  const int num_tiles = b + 1 + (p0 + kB - 1) / kB;
  const Bf16* qkv = static_cast<const Bf16*>(p.qkv);
  const int64_t k_col = int64_t{p.num_heads} * D + g * D;
  const int64_t v_col = int64_t{p.num_heads + p.num_kv_heads} * D + g * D;
  const int32_t* table = p.block_tables + chunk.block_table_offset;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const bool gate = p.log_gate != nullptr;

  auto stage = [&](int s) { return reinterpret_cast<Bf16*>(smem_raw + s * S::kStageBytes); };
  // Tile t: 0 = the query's own block b (raw K, M); 1..b = chunk block b - t (K'); then the
  // cache tiles (keys already carried to position p0 - 1).
  auto load = [&](int s, int t) {
    Bf16* sk = stage(s);
    Bf16* sv = sk + kTile;
    Bf16* sw = sv + kTile;
    Bf16* sw2 = sw + kTile;
    Bf16* sm = sw2 + kTile;
    float* sf = reinterpret_cast<float*>(sm + kB * kB);
    if (t <= b) {
      const int c = b - t;
      const int len = min(kB, chunk.q_len - c * kB);
      const int64_t ws_block = int64_t{chunk.first_block + c} * p.num_kv_heads + g;
      const int64_t ws = ws_block * kTile;
      for (int i = tid; i < kB * kC; i += kThreads) {
        const int r = i / kC, ch = i % kC;
        const bool valid = r < len;
        const int64_t row = int64_t{chunk.q_start + c * kB + (valid ? r : 0)} * p.qkv_stride;
        const int off = Swizzle<D>(r, ch);
        if (t == 0)
          CpAsync16(sk + off, qkv + row + k_col + ch * 8, valid);
        else
          CpAsync16(sk + off, static_cast<const Bf16*>(p.ws_k) + ws + r * D + ch * 8, true);
        CpAsync16(sv + off, qkv + row + v_col + ch * 8, valid);
        CpAsync16(sw + off, static_cast<const Bf16*>(p.ws_w) + ws + r * D + ch * 8, true);
        CpAsync16(sw2 + off, static_cast<const Bf16*>(p.ws_w2) + ws + r * D + ch * 8, true);
      }
      if (t == 0) {
        const Bf16* mp = static_cast<const Bf16*>(p.ws_m) + ws_block * kB * kB;
        for (int i = tid; i < kB * 8; i += kThreads)
          CpAsync16(sm + Swizzle<kB>(i / 8, i % 8), mp + i * 8, true);
      }
      if (gate)
        for (int r = tid; r < kB; r += kThreads)
          sf[r] = r < len ? p.forget[int64_t{chunk.q_start + c * kB + r} * p.num_heads + head]
                          : 0.0f;
    } else {
      const int k0 = (t - b - 1) * kB;
      for (int i = tid; i < kB * kC; i += kThreads) {
        const int r = i / kC, ch = i % kC;
        const int key = k0 + r;
        const bool valid = key < p0;
        int64_t offset = 0;
        if (valid)
          offset = ((int64_t{table[key / p.block_size]} * p.block_size + key % p.block_size) *
                        p.num_kv_heads + g) * D + ch * 8;
        const int off = Swizzle<D>(r, ch);
        CpAsync16(sk + off, static_cast<const Bf16*>(p.k_cache) + offset, valid);
        CpAsync16(sv + off, static_cast<const Bf16*>(p.v_cache) + offset, valid);
      }
      if (gate)
        for (int r = tid; r < kB; r += kThreads) {
          const int key = k0 + r;
          sf[r] = key < p0 ? p.f_cache[(int64_t{table[key / p.block_size]} * p.block_size +
                                        key % p.block_size) * p.num_heads + head]
                           : 0.0f;
        }
    }
  };

  const int r0 = warp * 16 + lane / 4;  // this thread's rows: r0, r0 + 8
  float q[D / 8][4];
  float fi[2] = {0.0f, 0.0f};
  {
    const Bf16* src[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int row = r0 + 8 * h;
      const int64_t token = chunk.q_start + b * kB + row;
      src[h] = row < len_b ? qkv + token * p.qkv_stride + int64_t{head} * D : nullptr;
      if (gate && row < len_b) fi[h] = p.forget[token * p.num_heads + head];
    }
    LoadRows<D>(q, src, lane);
  }
  const float scale_log2 = p.scale * kLog2e;
  float m[2] = {-INFINITY, -INFINITY};
  float l[2] = {0.0f, 0.0f};
  float o[D / 8][4];
  Zero(o);

  if constexpr (S::kStages == 2) {
    load(0, 0);
    CpAsyncCommit();
  }
  for (int t = 0; t < num_tiles; ++t) {
    int s = 0;
    if constexpr (S::kStages == 2) {
      s = t & 1;
      if (t + 1 < num_tiles) load(s ^ 1, t + 1);
      CpAsyncCommit();
      CpAsyncWait<1>();
    } else {
      load(0, t);
      CpAsyncCommit();
      CpAsyncWait<0>();
    }
    __syncthreads();
    const Bf16* sk = stage(s);
    const Bf16* sv = sk + kTile;
    const Bf16* sw = sv + kTile;
    const Bf16* sw2 = sw + kTile;
    const Bf16* sm = sw2 + kTile;
    const float* sf = reinterpret_cast<const float*>(sm + kB * kB);
    const bool chunk_tile = t <= b;
    float sc[8][4], u[8][4];
    Zero(sc);
    Zero(u);
    if (chunk_tile)
      RowProducts<D, true, true>(sc, u, q, sk, sw, lane);
    else
      RowProducts<D, true, false>(sc, u, q, sk, sw, lane);
    uint32_t ua[4][4];
    if (chunk_tile) {
      if (t == 0) {  // tril(Q W^T), the diagonal included
#pragma unroll
        for (int nt = 0; nt < 8; ++nt)
#pragma unroll
          for (int e = 0; e < 4; ++e)
            if (nt * 8 + (lane % 4) * 2 + (e & 1) > r0 + 8 * (e >> 1)) u[nt][e] = 0.0f;
      }
      PackA<8>(ua, u, -1.0f);
      if (t == 0) MmaRows<kB>(sc, ua, sm, lane);  // S -= tril(Q W^T) M
    }
    const int k0 = (t - b - 1) * kB;
#pragma unroll
    for (int nt = 0; nt < 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int j = nt * 8 + (lane % 4) * 2 + (e & 1);
        const int row = r0 + 8 * (e >> 1);
        float v = sc[nt][e];
        if (gate) v += fi[e >> 1] - sf[j];
        v *= scale_log2;
        if (t == 0 ? (j > row || j >= len_b) : (!chunk_tile && k0 + j >= p0)) v = -INFINITY;
        sc[nt][e] = v;
      }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float mx = -INFINITY;
#pragma unroll
      for (int nt = 0; nt < 8; ++nt) mx = fmaxf(mx, fmaxf(sc[nt][2 * h], sc[nt][2 * h + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m[h], mx);
      const float base = m_new == -INFINITY ? 0.0f : m_new;
      const float alpha = exp2f(m[h] - base);
      m[h] = m_new;
      float sum = 0.0f;
#pragma unroll
      for (int nt = 0; nt < 8; ++nt) {
        sc[nt][2 * h] = exp2f(sc[nt][2 * h] - base);
        sc[nt][2 * h + 1] = exp2f(sc[nt][2 * h + 1] - base);
        sum += sc[nt][2 * h] + sc[nt][2 * h + 1];
      }
      l[h] = l[h] * alpha + sum;
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt) {
        o[dt][2 * h] *= alpha;
        o[dt][2 * h + 1] *= alpha;
      }
    }
    {
      uint32_t pa[4][4];
      PackA<8>(pa, sc, 1.0f);
      MmaRows<D>(o, pa, sv, lane);
    }
    if (chunk_tile) MmaRows<D>(q, ua, sw2, lane);  // q^ -= (q^ W^T) W2
    __syncthreads();
  }
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
  }
  Bf16* dst[2];
  float inv[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int row = r0 + 8 * h;
    dst[h] = row < len_b ? static_cast<Bf16*>(p.o) +
                               (int64_t{chunk.q_start + b * kB + row} * p.num_heads + head) * D
                         : nullptr;
    inv[h] = l[h] > 0.0f ? 1.0f / l[h] : 0.0f;
  }
  StoreRows<D>(o, dst, inv, lane);
}

// Carries 64 keys (a cache tile or a chunk block's K') forward through the later chunk blocks
// and writes them to the cache.
template <int D>
__global__ void __launch_bounds__(kThreads) PathFinalizeKernel(const PathParams p) {
  constexpr int kC = D / 8;
  constexpr int kTile = kB * D;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  Bf16* ring = reinterpret_cast<Bf16*>(smem_raw);  // [2 stages][W, W3][64][D]
  const PathTileItem item = p.finalize_items[blockIdx.x];
  const int g = blockIdx.y;
  const PathChunkDesc chunk = p.chunks[item.chunk];
  const int p0 = chunk.num_computed;
  const int num_cache_tiles = (p0 + kB - 1) / kB;
  const int num_chunk_blocks = (chunk.q_len + kB - 1) / kB;
  const bool cache_tile = item.tile < num_cache_tiles;
  const int c = item.tile - num_cache_tiles;  // chunk block (when not a cache tile)
  const int first = cache_tile ? 0 : c + 1;
  const int32_t* table = p.block_tables + chunk.block_table_offset;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int r0 = warp * 16 + lane / 4;

  auto load = [&](int s, int blk) {
    Bf16* sw = ring + s * 2 * kTile;
    Bf16* sw3 = sw + kTile;
    const int64_t ws = (int64_t{chunk.first_block + blk} * p.num_kv_heads + g) * kTile;
    for (int i = tid; i < kB * kC; i += kThreads) {
      const int r = i / kC, ch = i % kC;
      CpAsync16(sw + Swizzle<D>(r, ch), static_cast<const Bf16*>(p.ws_w) + ws + r * D + ch * 8,
                true);
      CpAsync16(sw3 + Swizzle<D>(r, ch), static_cast<const Bf16*>(p.ws_w3) + ws + r * D + ch * 8,
                true);
    }
  };
  if (first < num_chunk_blocks) load(0, first);
  CpAsyncCommit();

  Bf16* rows[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int r = r0 + 8 * h;
    const int pos = cache_tile ? item.tile * kB + r : p0 + c * kB + r;
    const bool valid = cache_tile ? pos < p0 : (c * kB + r < chunk.q_len);
    rows[h] = valid ? static_cast<Bf16*>(p.k_cache) +
                          ((int64_t{table[pos / p.block_size]} * p.block_size +
                            pos % p.block_size) * p.num_kv_heads + g) * D
                    : nullptr;
  }
  float k[D / 8][4];
  {
    const Bf16* src[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      if (cache_tile || rows[h] == nullptr) {
        src[h] = rows[h];
      } else {
        src[h] = static_cast<const Bf16*>(p.ws_k) +
                 (int64_t{chunk.first_block + c} * p.num_kv_heads + g) * kTile + (r0 + 8 * h) * D;
      }
    }
    LoadRows<D>(k, src, lane);
  }
  for (int blk = first; blk < num_chunk_blocks; ++blk) {
    const int s = (blk - first) & 1;
    if (blk + 1 < num_chunk_blocks) load(s ^ 1, blk + 1);
    CpAsyncCommit();
    CpAsyncWait<1>();
    __syncthreads();
    const Bf16* sw = ring + s * 2 * kTile;
    float u[8][4], unused[8][4];
    Zero(u);
    RowProducts<D, false, true>(unused, u, k, nullptr, sw, lane);
    uint32_t ua[4][4];
    PackA<8>(ua, u, -1.0f);
    MmaRows<D>(k, ua, sw + kTile, lane);  // k -= (k W^T) W3
    __syncthreads();
  }
  float one[2] = {1.0f, 1.0f};
  StoreRows<D>(k, rows, one, lane);
}

// Decode: key groups of D / 8 lanes (16 bytes each) walk the keys; every thread keeps the
// online-softmax state of its key group for all G query heads of the kv head.
template <int D, int G>
__global__ void __launch_bounds__(kThreads) PathDecodeKernel(const PathParams p) {
  constexpr int L = D / 8;
  constexpr int kGroups = kThreads / L;
  constexpr int kUnroll = G >= 8 ? 2 : 4;
  __shared__ float sm_m[kGroups][G], sm_l[kGroups][G];
  __shared__ float sm_acc[kGroups][G][D];
  const PathDecodeItem item = p.decode_items[blockIdx.x];
  const int g = blockIdx.y;
  const PathChunkDesc chunk = p.chunks[item.chunk];
  const int pos = chunk.num_computed;  // the new token's position
  const int64_t token = chunk.q_start;
  const int group = p.num_heads / p.num_kv_heads;
  const int32_t* table = p.block_tables + chunk.block_table_offset;
  const int tid = threadIdx.x, lane = tid % 32;
  const int kg = tid / L;
  const int c0 = (lane % L) * 8;
  const bool gate = p.log_gate != nullptr;
  const Bf16* qkv = static_cast<const Bf16*>(p.qkv);
  Bf16* k_cache = static_cast<Bf16*>(p.k_cache);
  const Bf16* v_cache = static_cast<const Bf16*>(p.v_cache);

  float w[8], q[G][8], qw[G], fp[G], m[G], l[G], acc[G][8];
  const float beta = p.beta[token * p.num_kv_heads + g];
#pragma unroll
  for (int i = 0; i < 8; ++i) w[i] = p.w[(token * p.num_kv_heads + g) * D + c0 + i];
#pragma unroll
  for (int h = 0; h < G; ++h) {
    const int head = g * group + h;
    float dot = 0.0f;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      q[h][i] = h < group ? ToFloat(qkv[token * p.qkv_stride + int64_t{head} * D + c0 + i]) : 0.0f;
      dot += q[h][i] * w[i];
      acc[h][i] = 0.0f;
    }
#pragma unroll
    for (int off = 1; off < L; off <<= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
    qw[h] = dot;
    fp[h] = gate && h < group ? p.forget[token * p.num_heads + head] : 0.0f;
    m[h] = -INFINITY;
    l[h] = 0.0f;
  }
  const float scale_log2 = p.scale * kLog2e;
  const Bf16* new_key = qkv + token * p.qkv_stride + int64_t{p.num_heads + g} * D + c0;

  // The loop bounds are uniform over the CTA: every lane reaches every shuffle.
  for (int it = item.key_begin; it < item.key_end; it += kGroups * kUnroll) {
    const int base = it + kg;
    uint4 kraw[kUnroll], vraw[kUnroll];
    int64_t row[kUnroll];
    float fj[kUnroll][G];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int j = base + u * kGroups;
      kraw[u] = vraw[u] = make_uint4(0, 0, 0, 0);
      row[u] = 0;
#pragma unroll
      for (int h = 0; h < G; ++h) fj[u][h] = 0.0f;
      if (j < item.key_end) {
        row[u] = int64_t{table[j / p.block_size]} * p.block_size + j % p.block_size;
        const int64_t at = (row[u] * p.num_kv_heads + g) * D + c0;
        kraw[u] = j < pos ? *reinterpret_cast<const uint4*>(k_cache + at)
                          : *reinterpret_cast<const uint4*>(new_key);
        vraw[u] = *reinterpret_cast<const uint4*>(v_cache + at);
        if (gate)
#pragma unroll
          for (int h = 0; h < G; ++h)
            if (h < group) fj[u][h] = p.f_cache[row[u] * p.num_heads + g * group + h];
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int j = base + u * kGroups;
      float kf[8];
      const __nv_bfloat162* k2 = reinterpret_cast<const __nv_bfloat162*>(&kraw[u]);
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float2 f = __bfloat1622float2(k2[i]);
        kf[2 * i] = f.x;
        kf[2 * i + 1] = f.y;
      }
      float kw = 0.0f, qk[G];
#pragma unroll
      for (int i = 0; i < 8; ++i) kw += kf[i] * w[i];
#pragma unroll
      for (int h = 0; h < G; ++h) {
        qk[h] = 0.0f;
#pragma unroll
        for (int i = 0; i < 8; ++i) qk[h] += q[h][i] * kf[i];
      }
#pragma unroll
      for (int off = 1; off < L; off <<= 1) {
        kw += __shfl_xor_sync(0xffffffffu, kw, off);
#pragma unroll
        for (int h = 0; h < G; ++h) qk[h] += __shfl_xor_sync(0xffffffffu, qk[h], off);
      }
      if (j >= item.key_end) continue;
      const bool old = j < pos;
      Bf16* dst = k_cache + (row[u] * p.num_kv_heads + g) * D + c0;
      if (old) {
        const float coeff = beta * kw;
        uint4 packed;
        uint32_t* pk = reinterpret_cast<uint32_t*>(&packed);
#pragma unroll
        for (int i = 0; i < 4; ++i)
          pk[i] = path::PackBf16(kf[2 * i] - coeff * w[2 * i], kf[2 * i + 1] - coeff * w[2 * i + 1]);
        *reinterpret_cast<uint4*>(dst) = packed;
      } else {
        *reinterpret_cast<uint4*>(dst) = kraw[u];
      }
      float vf[8];
      const __nv_bfloat162* v2 = reinterpret_cast<const __nv_bfloat162*>(&vraw[u]);
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float2 f = __bfloat1622float2(v2[i]);
        vf[2 * i] = f.x;
        vf[2 * i + 1] = f.y;
      }
#pragma unroll
      for (int h = 0; h < G; ++h) {
        if (h >= group) continue;
        const float score = old ? qk[h] - beta * kw * qw[h] : qk[h];
        const float logit = (score + fp[h] - fj[u][h]) * scale_log2;
        const float m_new = fmaxf(m[h], logit);
        const float alpha = exp2f(m[h] - m_new);
        const float e = exp2f(logit - m_new);
        m[h] = m_new;
        l[h] = l[h] * alpha + e;
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[h][i] = acc[h][i] * alpha + e * vf[i];
      }
    }
  }
#pragma unroll
  for (int h = 0; h < G; ++h) {
    if (lane % L == 0) {
      sm_m[kg][h] = m[h];
      sm_l[kg][h] = l[h];
    }
#pragma unroll
    for (int i = 0; i < 8; ++i) sm_acc[kg][h][c0 + i] = acc[h][i];
  }
  __syncthreads();
  for (int idx = tid; idx < group * D; idx += kThreads) {
    const int h = idx / D, c = idx % D;
    float mx = -INFINITY;
    for (int x = 0; x < kGroups; ++x) mx = fmaxf(mx, sm_m[x][h]);
    float sum = 0.0f, a = 0.0f;
    if (mx != -INFINITY)
      for (int x = 0; x < kGroups; ++x) {
        const float f = exp2f(sm_m[x][h] - mx);
        sum += sm_l[x][h] * f;
        a += sm_acc[x][h][c] * f;
      }
    const float value = sum > 0.0f ? a / sum : 0.0f;
    if (item.partial >= 0) {
      const int64_t slot = (int64_t{item.partial} * p.num_kv_heads + g) * group + h;
      p.partial_o[slot * D + c] = value;
      if (c == 0) p.partial_lse[slot] = sum > 0.0f ? mx + log2f(sum) : -INFINITY;
    } else {
      static_cast<Bf16*>(p.o)[(token * p.num_heads + g * group + h) * D + c] = FromFloat<Bf16>(value);
    }
  }
}

__global__ void PathMergeKernel(const PathParams p) {
  const PathMergeItem merge = p.merges[blockIdx.x];
  const int g = blockIdx.y;
  const int group = p.num_heads / p.num_kv_heads;
  const int d = p.head_dim;
  const int64_t token = p.chunks[merge.chunk].q_start;
  for (int idx = threadIdx.x; idx < group * d; idx += blockDim.x) {
    const int h = idx / d, c = idx % d;
    auto slot = [&](int s) {
      return (int64_t{merge.first_partial + s} * p.num_kv_heads + g) * group + h;
    };
    float mx = -INFINITY;
    for (int s = 0; s < merge.num_splits; ++s) mx = fmaxf(mx, p.partial_lse[slot(s)]);
    float sum = 0.0f, acc = 0.0f;
    if (mx != -INFINITY)
      for (int s = 0; s < merge.num_splits; ++s) {
        const float f = exp2f(p.partial_lse[slot(s)] - mx);
        sum += f;
        acc += f * p.partial_o[slot(s) * d + c];
      }
    static_cast<Bf16*>(p.o)[(token * p.num_heads + g * group + h) * d + c] =
        FromFloat<Bf16>(sum > 0.0f ? acc / sum : 0.0f);
  }
}

template <int D>
void LaunchPrefill(const PathParams& p, cudaStream_t stream) {
  constexpr size_t smem = PrefillSmem<D>::kBytes;
  static const bool configured = [] {
    cudaFuncSetAttribute(PathPrefillKernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    return true;
  }();
  (void)configured;
  PathPrefillKernel<D><<<dim3(p.num_prefill_items, p.num_heads), kThreads, smem, stream>>>(p);
}

template <int D>
void LaunchFinalize(const PathParams& p, cudaStream_t stream) {
  constexpr size_t smem = 2 * 2 * kB * D * sizeof(Bf16);
  static const bool configured = [] {
    cudaFuncSetAttribute(PathFinalizeKernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                         smem);
    return true;
  }();
  (void)configured;
  PathFinalizeKernel<D><<<dim3(p.num_finalize_items, p.num_kv_heads), kThreads, smem, stream>>>(p);
}

template <int D>
void LaunchDecode(const PathParams& p, cudaStream_t stream) {
  const int group = p.num_heads / p.num_kv_heads;
  const dim3 grid(p.num_decode_items, p.num_kv_heads);
  if (group <= 1)
    PathDecodeKernel<D, 1><<<grid, kThreads, 0, stream>>>(p);
  else if (group <= 2)
    PathDecodeKernel<D, 2><<<grid, kThreads, 0, stream>>>(p);
  else if (group <= 4)
    PathDecodeKernel<D, 4><<<grid, kThreads, 0, stream>>>(p);
  else
    PathDecodeKernel<D, 8><<<grid, kThreads, 0, stream>>>(p);
}

}  // namespace

bool PathHeadDimSupported(int head_dim) { return head_dim == 64 || head_dim == 128; }

int64_t PathTileElems(int head_dim) { return int64_t{kPathBlock} * head_dim; }

void LaunchPathPrefill(const PathParams& p, cudaStream_t stream) {
  if (p.num_prefill_items == 0) return;
  if (p.head_dim == 64) LaunchPrefill<64>(p, stream);
  if (p.head_dim == 128) LaunchPrefill<128>(p, stream);
}

void LaunchPathFinalize(const PathParams& p, cudaStream_t stream) {
  if (p.num_finalize_items == 0) return;
  if (p.head_dim == 64) LaunchFinalize<64>(p, stream);
  if (p.head_dim == 128) LaunchFinalize<128>(p, stream);
}

void LaunchPathDecode(const PathParams& p, cudaStream_t stream) {
  if (p.num_decode_items == 0) return;
  if (p.head_dim == 64) LaunchDecode<64>(p, stream);
  if (p.head_dim == 128) LaunchDecode<128>(p, stream);
  if (p.num_merges > 0)
    PathMergeKernel<<<dim3(p.num_merges, p.num_kv_heads), kThreads, 0, stream>>>(p);
}

void LaunchPathAttention(const PathParams& p, cudaStream_t stream) {
  LaunchPathStore(p, stream);
  LaunchPathPrep(p, stream);
  LaunchPathPrefill(p, stream);
  LaunchPathDecode(p, stream);
  LaunchPathFinalize(p, stream);
}

}  // namespace junction::cuda
