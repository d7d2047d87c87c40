// PaTH prefill (query carried backward through UT blocks) and key finalize (keys carried
// forward, by suffix products or block by block); see path_attention.h for the math (the decode is
// in path_decode.cu). Tiles of 64 rows are loaded with cp.async into XOR-swizzled shared memory and
// multiplied with mma.sync; each of the 4 warps of a CTA owns 16 rows and keeps them (q^ or k) in
// fp32 registers.
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
          sf[r] =
              r < len ? p.forget[int64_t{chunk.q_start + c * kB + r} * p.num_heads + head] : 0.0f;
    } else {
      const int k0 = (t - b - 1) * kB;
      for (int i = tid; i < kB * kC; i += kThreads) {
        const int r = i / kC, ch = i % kC;
        const int key = k0 + r;
        const bool valid = key < p0;
        int64_t offset = 0;
        if (valid)
          offset = ((int64_t{table[key / p.block_size]} * p.block_size + key % p.block_size) *
                        p.num_kv_heads +
                    g) *
                       D +
                   ch * 8;
        const int off = Swizzle<D>(r, ch);
        CpAsync16(sk + off, static_cast<const Bf16*>(p.k_cache) + offset, valid);
        CpAsync16(sv + off, static_cast<const Bf16*>(p.v_cache) + offset, valid);
      }
      if (gate)
        for (int r = tid; r < kB; r += kThreads) {
          const int key = k0 + r;
          sf[r] = key < p0 ? p.f_cache[(int64_t{table[key / p.block_size]} * p.block_size +
                                        key % p.block_size) *
                                           p.num_heads +
                                       head]
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

// Stage `s` of a [2 stages][W, W3][64][D] ring: UT block `blk` of the chunk's W and W3 tiles.
template <int D>
__device__ __forceinline__ void LoadWW3(Bf16* ring, int s, const PathParams& p,
                                        const PathChunkDesc& chunk, int g, int blk, int tid) {
  constexpr int kC = D / 8;
  constexpr int kTile = kB * D;
  Bf16* sw = ring + s * 2 * kTile;
  Bf16* sw3 = sw + kTile;
  const int64_t ws = (int64_t{chunk.first_block + blk} * p.num_kv_heads + g) * kTile;
  for (int i = tid; i < kB * kC; i += kThreads) {
    const int r = i / kC, ch = i % kC;
    CpAsync16(sw + Swizzle<D>(r, ch), static_cast<const Bf16*>(p.ws_w) + ws + r * D + ch * 8, true);
    CpAsync16(sw3 + Swizzle<D>(r, ch), static_cast<const Bf16*>(p.ws_w3) + ws + r * D + ch * 8,
              true);
  }
}

// A warp's 16 rows x <- x - (x a^T) b, for [64][D] tiles a and b (the product rounded to bf16).
template <int D>
__device__ __forceinline__ void SubtractProjection(float (&x)[D / 8][4], const Bf16* a,
                                                   const Bf16* b, int lane) {
  float u[8][4], unused[8][4];
  Zero(u);
  RowProducts<D, false, true>(unused, u, x, nullptr, a, lane);
  uint32_t ua[4][4];
  PackA<8>(ua, u, -1.0f);
  MmaRows<D>(x, ua, b, lane);
}

// The 64 keys of a finalize item (a cache tile, or chunk block c's K'), in a warp's rows r0 and
// r0 + 8: `rows` are their cache rows (null past the end), `k` the keys as they are now.
struct KeyTile {
  bool cache_tile;
  int c;  // chunk block (when not a cache tile)
  int num_chunk_blocks;
};

template <int D>
__device__ __forceinline__ KeyTile LoadKeyTile(const PathParams& p, const PathChunkDesc& chunk,
                                               const PathTileItem& item, int g, int r0, int lane,
                                               Bf16* (&rows)[2], float (&k)[D / 8][4]) {
  const int p0 = chunk.num_computed;
  const int num_cache_tiles = (p0 + kB - 1) / kB;
  KeyTile t{item.tile < num_cache_tiles, item.tile - num_cache_tiles, (chunk.q_len + kB - 1) / kB};
  const int32_t* table = p.block_tables + chunk.block_table_offset;
  const Bf16* src[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int r = r0 + 8 * h;
    const int pos = t.cache_tile ? item.tile * kB + r : p0 + t.c * kB + r;
    const bool valid = t.cache_tile ? pos < p0 : (t.c * kB + r < chunk.q_len);
    rows[h] = valid
                  ? static_cast<Bf16*>(p.k_cache) +
                        ((int64_t{table[pos / p.block_size]} * p.block_size + pos % p.block_size) *
                             p.num_kv_heads +
                         g) *
                            D
                  : nullptr;
    src[h] = rows[h];
    if (!t.cache_tile && rows[h] != nullptr)
      src[h] = static_cast<const Bf16*>(p.ws_k) +
               (int64_t{chunk.first_block + t.c} * p.num_kv_heads + g) * (kB * D) + r * D;
  }
  LoadRows<D>(k, src, lane);
  return t;
}

// kCarry: carries 64 keys (a cache tile or a chunk block's K') forward through the later chunk
// blocks and writes them to the cache.
template <int D>
__global__ void __launch_bounds__(kThreads) PathFinalizeKernel(const PathParams p) {
  constexpr int kTile = kB * D;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  Bf16* ring = reinterpret_cast<Bf16*>(smem_raw);  // [2 stages][W, W3][64][D]
  const PathTileItem item = p.finalize_items[blockIdx.x];
  const int g = blockIdx.y;
  const PathChunkDesc chunk = p.chunks[item.chunk];
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int r0 = warp * 16 + lane / 4;
  Bf16* rows[2];
  float k[D / 8][4];
  const KeyTile t = LoadKeyTile<D>(p, chunk, item, g, r0, lane, rows, k);
  const int first = t.cache_tile ? 0 : t.c + 1;
  if (first < t.num_chunk_blocks) LoadWW3<D>(ring, 0, p, chunk, g, first, tid);
  CpAsyncCommit();
  for (int blk = first; blk < t.num_chunk_blocks; ++blk) {
    const int s = (blk - first) & 1;
    if (blk + 1 < t.num_chunk_blocks) LoadWW3<D>(ring, s ^ 1, p, chunk, g, blk + 1, tid);
    CpAsyncCommit();
    CpAsyncWait<1>();
    __syncthreads();
    const Bf16* sw = ring + s * 2 * kTile;
    SubtractProjection<D>(k, sw, sw + kTile, lane);  // k -= (k W^T) W3
    __syncthreads();
  }
  float one[2] = {1.0f, 1.0f};
  StoreRows<D>(k, rows, one, lane);
}

// kSuffix, first pass: one CTA per (prefill-mode chunk, kv head, 64 rows of Q^T) walks the UT
// blocks from the last to the first, Q_b^T = Q_{b+1}^T P_b^T = Q_{b+1}^T - (Q_{b+1}^T W3_b^T) W_b
// (the rows in fp32 registers, as the keys are in kCarry), and writes each Q_b^T in bf16.
template <int D>
__global__ void __launch_bounds__(kThreads) PathSuffixKernel(const PathParams p) {
  constexpr int kTile = kB * D;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  Bf16* ring = reinterpret_cast<Bf16*>(smem_raw);  // [2 stages][W, W3][64][D]
  const PathChunkDesc chunk = p.chunks[p.suffix_chunks[blockIdx.x]];
  const int g = blockIdx.y;
  const int n = (chunk.q_len + kB - 1) / kB;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int row0 = blockIdx.z * kB + warp * 16 + lane / 4;  // rows row0, row0 + 8 of Q^T
  LoadWW3<D>(ring, 0, p, chunk, g, n - 1, tid);
  CpAsyncCommit();
  float x[D / 8][4];  // Q_last^T = I
#pragma unroll
  for (int nt = 0; nt < D / 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      x[nt][e] = row0 + 8 * (e / 2) == nt * 8 + (lane % 4) * 2 + e % 2 ? 1.0f : 0.0f;
  float one[2] = {1.0f, 1.0f};
  for (int blk = n - 1; blk >= 0; --blk) {
    const int s = (n - 1 - blk) & 1;
    if (blk > 0) LoadWW3<D>(ring, s ^ 1, p, chunk, g, blk - 1, tid);
    CpAsyncCommit();
    CpAsyncWait<1>();
    __syncthreads();
    const Bf16* sw = ring + s * 2 * kTile;
    SubtractProjection<D>(x, sw + kTile, sw, lane);  // x -= (x W3^T) W
    __syncthreads();
    Bf16* const q = static_cast<Bf16*>(p.ws_r) +
                    (int64_t{chunk.first_block + blk} * p.num_kv_heads + g) * (D * D);
    Bf16* dst[2] = {q + row0 * D, q + (row0 + 8) * D};
    StoreRows<D>(x, dst, one, lane);
  }
}

// kSuffix, second pass: one CTA per finalize item, keys <- keys Q (Q_{c+1} for chunk block c,
// Q_0 for a cache tile; the chunk's last block is already final).
template <int D>
__global__ void __launch_bounds__(kThreads) PathApplySuffixKernel(const PathParams p) {
  constexpr int kC = D / 8;
  constexpr int kTile = kB * D;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  Bf16* sq = reinterpret_cast<Bf16*>(smem_raw);  // Q^T as D / 64 tiles of [64][D]
  const PathTileItem item = p.finalize_items[blockIdx.x];
  const int g = blockIdx.y;
  const PathChunkDesc chunk = p.chunks[item.chunk];
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int r0 = warp * 16 + lane / 4;
  const int num_cache_tiles = (chunk.num_computed + kB - 1) / kB;
  const int num_chunk_blocks = (chunk.q_len + kB - 1) / kB;
  const int suffix = item.tile < num_cache_tiles ? 0 : item.tile - num_cache_tiles + 1;
  const bool transform = suffix < num_chunk_blocks;
  if (transform) {
    const Bf16* q = static_cast<const Bf16*>(p.ws_r) +
                    (int64_t{chunk.first_block + suffix} * p.num_kv_heads + g) * (D * D);
    for (int i = tid; i < D * kC; i += kThreads) {
      const int r = i / kC, ch = i % kC;
      CpAsync16(sq + (r / kB) * kTile + Swizzle<D>(r % kB, ch), q + r * D + ch * 8, true);
    }
  }
  CpAsyncCommit();
  Bf16* rows[2];
  float k[D / 8][4];
  LoadKeyTile<D>(p, chunk, item, g, r0, lane, rows, k);
  float one[2] = {1.0f, 1.0f};
  if (!transform) {
    StoreRows<D>(k, rows, one, lane);
    return;
  }
  CpAsyncWait<0>();
  __syncthreads();
  float out[D / 8][4];
#pragma unroll
  for (int half = 0; half < D / kB; ++half) {
    float sc[8][4], unused[8][4];
    Zero(sc);
    // Columns [64 half, 64 half + 64) of k Q: k . (rows of Q^T)^T.
    RowProducts<D, true, false>(sc, unused, k, sq + half * kTile, nullptr, lane);
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) out[half * 8 + i][e] = sc[i][e];
  }
  StoreRows<D>(out, rows, one, lane);
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
void LaunchFinalize(const PathParams& p, cudaStream_t stream, PathFinalizeImpl impl) {
  constexpr size_t ring = 2 * 2 * kB * D * sizeof(Bf16);
  constexpr size_t qt = D * D * sizeof(Bf16);
  static const bool configured = [] {
    cudaFuncSetAttribute(PathFinalizeKernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, ring);
    cudaFuncSetAttribute(PathSuffixKernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, ring);
    cudaFuncSetAttribute(PathApplySuffixKernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, qt);
    return true;
  }();
  (void)configured;
  const dim3 items(p.num_finalize_items, p.num_kv_heads);
  if (impl == PathFinalizeImpl::kCarry) {
    PathFinalizeKernel<D><<<items, kThreads, ring, stream>>>(p);
    return;
  }
  if (p.num_suffix_chunks > 0)
    PathSuffixKernel<D>
        <<<dim3(p.num_suffix_chunks, p.num_kv_heads, D / kB), kThreads, ring, stream>>>(p);
  PathApplySuffixKernel<D><<<items, kThreads, qt, stream>>>(p);
}

}  // namespace

bool PathHeadDimSupported(int head_dim) { return head_dim == 64 || head_dim == 128; }

int64_t PathTileElems(int head_dim) { return int64_t{kPathBlock} * head_dim; }

void LaunchPathPrefill(const PathParams& p, cudaStream_t stream) {
  if (p.num_prefill_items == 0) return;
  if (p.head_dim == 64) LaunchPrefill<64>(p, stream);
  if (p.head_dim == 128) LaunchPrefill<128>(p, stream);
}

void LaunchPathFinalize(const PathParams& p, cudaStream_t stream, PathFinalizeImpl impl) {
  if (p.num_finalize_items == 0) return;
  if (p.head_dim == 64) LaunchFinalize<64>(p, stream, impl);
  if (p.head_dim == 128) LaunchFinalize<128>(p, stream, impl);
}

void LaunchPathAttention(const PathParams& p, cudaStream_t stream, PathFinalizeImpl impl) {
  LaunchPathStore(p, stream);
  LaunchPathPrep(p, stream);
  LaunchPathPrefill(p, stream);
  LaunchPathDecode(p, stream);
  LaunchPathFinalize(p, stream, impl);
}

}  // namespace junction::cuda
