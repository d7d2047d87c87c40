// Mamba2 SSD scan kernels (DESIGN.md §4), per head h of a request:
//   S_t = exp(dt_t A) S_{t-1} + dt_t x_t B_t^T   (S: [P, N] float32),   y_t = S_t C_t + D x_t.
//
// Chunked prefill: one CTA (4 warps) per (request, head, block of PB rows of P) walks the
// request's 64-token chunks in order. Per chunk, with cum_l = sum_{s<=l} dt_s A:
//   G[l, s] = (C_l . B_s) exp(cum_l - cum_s) dt_s   (s <= l)        tensor cores, K = N
//   Y = exp(cum_l) (C S_prev^T) + G X + D X                        tensor cores, K = N and 64
//   S <- exp(cum_63) S + (X * exp(cum_63 - cum_s) dt_s)^T B         tensor cores, K = 64
// Warp w owns rows 16w..16w+15 of G and Y; the state is split over the warps in 16x16 tiles and
// stays in fp32 registers for the whole request (a bf16 copy in shared memory feeds C S^T).
// The next chunk's x, B, C, dt land by cp.async while the current one computes. Every exponent
// is <= 0 (differences of a non-increasing cumulative sum), so nothing overflows.
//
// Decode: one CTA per (request, head) streams the head's state once (float4, read + write).
#include <cfloat>

#include "backends/cuda/kernels/cuda_types.cuh"
#include "backends/cuda/kernels/mamba2_kernels.h"
#include "backends/cuda/kernels/mma_sm80.cuh"

namespace junction::cuda {
namespace {

using bf16 = __nv_bfloat16;

constexpr int kL = 64;  // tokens per chunk
constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kPad = 8;  // bf16 padding per shared-memory row: conflict-free ldmatrix rows

using ptx::CpAsync16;
using ptx::CpAsyncCommit;
using ptx::CpAsyncWait;
using ptx::Ldmatrix4;
using ptx::Ldmatrix4Trans;
using ptx::Mma;
using ptx::PackBf16;
using ptx::SmemAddr;

__device__ __forceinline__ void CpAsync4(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src),
               "r"(valid ? 4 : 0));
}

__device__ __forceinline__ float Dt(float raw, float bias, float lo, float hi) {
  const float x = raw + bias;
  const float sp = x > 20.0f ? x : log1pf(expf(x));
  return fminf(fmaxf(sp, lo), hi);
}

template <int N, int PB>
struct ScanShape {
  static constexpr int kXLd = PB + kPad;
  static constexpr int kBLd = N + kPad;
  static constexpr int kStageElems = kL * kXLd + 2 * kL * kBLd;  // x | B | C
  static constexpr int kPairs = (PB / 16) * (N / 16);            // 16x16 state tiles
  static constexpr int kPairsPerWarp = (kPairs + kWarps - 1) / kWarps;
  // 2 stages | S (bf16) | X weighted (bf16) | raw dt [2][kL] | cum, dt, w [kL] each
  static constexpr size_t kSmemBytes =
      sizeof(bf16) * (2 * kStageElems + PB * kBLd + kL * kXLd) + sizeof(float) * 5 * kL;
};

template <int N, int PB>
__global__ void __launch_bounds__(kThreads) Mamba2ChunkScanKernel(const Mamba2SsdParams p) {
  using S = ScanShape<N, PB>;
  constexpr int kXLd = S::kXLd, kBLd = S::kBLd;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  bf16* stages = reinterpret_cast<bf16*>(smem_raw);
  bf16* s_state = stages + 2 * S::kStageElems;
  bf16* s_xw = s_state + PB * kBLd;
  float* s_dt_raw = reinterpret_cast<float*>(s_xw + kL * kXLd);  // [2][kL]
  float* s_cum = s_dt_raw + 2 * kL;
  float* s_dt = s_cum + kL;
  float* s_w = s_dt + kL;

  const int num_pb = p.head_dim / PB;
  const int per_item = p.num_heads * num_pb;
  const Mamba2ScanItem item = p.items[blockIdx.x / per_item];
  const int head = (blockIdx.x % per_item) / num_pb;
  const int pb = blockIdx.x % num_pb;
  const int group = head / (p.num_heads / p.num_groups);
  const int inner = p.num_heads * p.head_dim;
  const int x_col = head * p.head_dim + pb * PB;
  const int b_col = inner + group * N;
  const int c_col = inner + (p.num_groups + group) * N;
  const float a = p.a[head], d_skip = p.d[head], dt_bias = p.dt_bias[head];
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, tq = lane % 4;
  const bf16* xbc = static_cast<const bf16*>(p.xbc);

  auto load_chunk = [&](int stage, int t0) {
    bf16* sx = stages + stage * S::kStageElems;
    bf16* sb = sx + kL * kXLd;
    bf16* sc = sb + kL * kBLd;
    const int len = min(kL, item.num_tokens - t0);
    constexpr int kXChunks = PB / 8, kBChunks = N / 8, kRowChunks = kXChunks + 2 * kBChunks;
    for (int i = tid; i < kL * kRowChunks; i += kThreads) {
      const int r = i / kRowChunks, c = i % kRowChunks;
      const bool valid = r < len;
      const bf16* row =
          xbc + static_cast<int64_t>(item.first_token + t0 + (valid ? r : 0)) * p.xbc_stride;
      if (c < kXChunks) {
        CpAsync16(SmemAddr(sx + r * kXLd + c * 8), row + x_col + c * 8, valid);
      } else if (c < kXChunks + kBChunks) {
        const int cc = c - kXChunks;
        CpAsync16(SmemAddr(sb + r * kBLd + cc * 8), row + b_col + cc * 8, valid);
      } else {
        const int cc = c - kXChunks - kBChunks;
        CpAsync16(SmemAddr(sc + r * kBLd + cc * 8), row + c_col + cc * 8, valid);
      }
    }
    if (tid < kL) {
      const bool valid = tid < len;
      CpAsync4(SmemAddr(s_dt_raw + stage * kL + tid),
               p.dt +
                   static_cast<int64_t>(item.first_token + t0 + (valid ? tid : 0)) * p.dt_stride +
                   head,
               valid);
    }
  };

  // This warp's state tiles: pair j = (m, np) covers rows m*16.., columns np*16.. of S.
  float st[S::kPairsPerWarp][2][4];
  float* state =
      p.ssm_state +
      ((static_cast<int64_t>(item.slot) * p.num_heads + head) * p.head_dim + pb * PB) * N;
#pragma unroll
  for (int j = 0; j < S::kPairsPerWarp; ++j) {
    const int pair = warp + kWarps * j;
    const int m = pair / (N / 16), np = pair % (N / 16);
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        float2 v = make_float2(0.0f, 0.0f);
        if (pair < S::kPairs && !item.fresh)
          v = *reinterpret_cast<const float2*>(state + (m * 16 + g + 8 * half) * N + np * 16 +
                                               h * 8 + 2 * tq);
        st[j][h][2 * half] = v.x;
        st[j][h][2 * half + 1] = v.y;
      }
  }
  auto store_state_smem = [&] {
#pragma unroll
    for (int j = 0; j < S::kPairsPerWarp; ++j) {
      const int pair = warp + kWarps * j;
      if (pair >= S::kPairs) continue;
      const int m = pair / (N / 16), np = pair % (N / 16);
#pragma unroll
      for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int half = 0; half < 2; ++half)
          *reinterpret_cast<uint32_t*>(s_state + (m * 16 + g + 8 * half) * kBLd + np * 16 + h * 8 +
                                       2 * tq) =
              PackBf16(st[j][h][2 * half], st[j][h][2 * half + 1]);
    }
  };
  store_state_smem();

  const int num_chunks = (item.num_tokens + kL - 1) / kL;
  load_chunk(0, 0);
  CpAsyncCommit();
  const int row0 = warp * 16;
  for (int ci = 0; ci < num_chunks; ++ci) {
    const int t0 = ci * kL, len = min(kL, item.num_tokens - t0), stage = ci & 1;
    if (ci + 1 < num_chunks) load_chunk(stage ^ 1, t0 + kL);
    CpAsyncCommit();
    CpAsyncWait<1>();
    __syncthreads();  // chunk ci (and the state copy) visible to every warp
    const bf16* sx = stages + stage * S::kStageElems;
    const bf16* sb = sx + kL * kXLd;
    const bf16* sc = sb + kL * kBLd;
    if (warp == 0) {
      float dt[2], v[2];
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int s = 2 * lane + e;
        dt[e] = s < len ? Dt(s_dt_raw[stage * kL + s], dt_bias, p.dt_min, p.dt_max) : 0.0f;
        v[e] = dt[e] * a;
      }
      const float local = v[0] + v[1];
      float incl = local;
#pragma unroll
      for (int off = 1; off < 32; off <<= 1) {
        const float up = __shfl_up_sync(0xffffffffu, incl, off);
        if (lane >= off) incl += up;
      }
      const float cum0 = incl - local + v[0], cum1 = incl;
      const float last = __shfl_sync(0xffffffffu, incl, 31);
      s_cum[2 * lane] = cum0;
      s_cum[2 * lane + 1] = cum1;
      s_dt[2 * lane] = dt[0];
      s_dt[2 * lane + 1] = dt[1];
      s_w[2 * lane] = __expf(last - cum0) * dt[0];
      s_w[2 * lane + 1] = __expf(last - cum1) * dt[1];
    }
    __syncthreads();
    for (int i = tid; i < kL * PB / 2; i += kThreads) {
      const int s = i / (PB / 2), c = (i % (PB / 2)) * 2;
      const float2 xv =
          __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(sx + s * kXLd + c));
      const float w = s_w[s];
      *reinterpret_cast<uint32_t*>(s_xw + s * kXLd + c) = PackBf16(xv.x * w, xv.y * w);
    }

    // G = C B^T (rows row0.., all 64 columns) and Y = C S^T, sharing the C fragments.
    float gacc[8][4];
    float yacc[PB / 8][4];
#pragma unroll
    for (int i = 0; i < 8; ++i) gacc[i][0] = gacc[i][1] = gacc[i][2] = gacc[i][3] = 0.0f;
#pragma unroll
    for (int i = 0; i < PB / 8; ++i) yacc[i][0] = yacc[i][1] = yacc[i][2] = yacc[i][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < N / 16; ++kk) {
      uint32_t af[4];
      Ldmatrix4(af, SmemAddr(sc + (row0 + (lane & 15)) * kBLd + kk * 16 + (lane >> 4) * 8));
#pragma unroll
      for (int np = 0; np < 4; ++np) {
        if (np > warp) continue;  // columns past this warp's rows are causal zeros
        uint32_t b[4];
        Ldmatrix4(b, SmemAddr(sb + (np * 16 + (lane & 7) + ((lane >> 4) << 3)) * kBLd + kk * 16 +
                              ((lane >> 3) & 1) * 8));
        Mma(gacc[2 * np], af, b[0], b[1]);
        Mma(gacc[2 * np + 1], af, b[2], b[3]);
      }
#pragma unroll
      for (int np = 0; np < PB / 16; ++np) {
        uint32_t b[4];
        Ldmatrix4(b, SmemAddr(s_state + (np * 16 + (lane & 7) + ((lane >> 4) << 3)) * kBLd +
                              kk * 16 + ((lane >> 3) & 1) * 8));
        Mma(yacc[2 * np], af, b[0], b[1]);
        Mma(yacc[2 * np + 1], af, b[2], b[3]);
      }
    }
    const float cum_row[2] = {s_cum[row0 + g], s_cum[row0 + g + 8]};
#pragma unroll
    for (int nt = 0; nt < 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int l = row0 + g + 8 * (e >> 1), s = nt * 8 + 2 * tq + (e & 1);
        gacc[nt][e] = s <= l ? gacc[nt][e] * __expf(cum_row[e >> 1] - s_cum[s]) * s_dt[s] : 0.0f;
      }
    const float decay_row[2] = {__expf(cum_row[0]), __expf(cum_row[1])};
#pragma unroll
    for (int nt = 0; nt < PB / 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) yacc[nt][e] *= decay_row[e >> 1];
#pragma unroll
    for (int kc = 0; kc < 4; ++kc) {
      if (kc > warp) continue;
      const uint32_t ga[4] = {PackBf16(gacc[2 * kc][0], gacc[2 * kc][1]),
                              PackBf16(gacc[2 * kc][2], gacc[2 * kc][3]),
                              PackBf16(gacc[2 * kc + 1][0], gacc[2 * kc + 1][1]),
                              PackBf16(gacc[2 * kc + 1][2], gacc[2 * kc + 1][3])};
#pragma unroll
      for (int dp = 0; dp < PB / 16; ++dp) {
        uint32_t b[4];
        Ldmatrix4Trans(b, SmemAddr(sx + (kc * 16 + (lane & 7) + (((lane >> 3) & 1) << 3)) * kXLd +
                                   dp * 16 + (lane >> 4) * 8));
        Mma(yacc[2 * dp], ga, b[0], b[1]);
        Mma(yacc[2 * dp + 1], ga, b[2], b[3]);
      }
    }
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int l = row0 + g + 8 * half;
      if (l >= len) continue;
      float* out = p.y + static_cast<int64_t>(item.first_token + t0 + l) * inner + x_col;
#pragma unroll
      for (int nt = 0; nt < PB / 8; ++nt) {
        const int c = nt * 8 + 2 * tq;
        const float2 xv =
            __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(sx + l * kXLd + c));
        *reinterpret_cast<float2*>(out + c) =
            make_float2(yacc[nt][2 * half] + d_skip * xv.x, yacc[nt][2 * half + 1] + d_skip * xv.y);
      }
    }
    __syncthreads();  // X weighted complete; every warp is done reading the state copy

    const float chunk_decay = __expf(s_cum[kL - 1]);
#pragma unroll
    for (int j = 0; j < S::kPairsPerWarp; ++j) {
      const int pair = warp + kWarps * j;
      if (pair >= S::kPairs) continue;
      const int m = pair / (N / 16), np = pair % (N / 16);
#pragma unroll
      for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int e = 0; e < 4; ++e) st[j][h][e] *= chunk_decay;
#pragma unroll
      for (int kc = 0; kc < 4; ++kc) {
        uint32_t af[4], b[4];
        Ldmatrix4Trans(af, SmemAddr(s_xw + (kc * 16 + (lane & 7) + ((lane >> 4) << 3)) * kXLd +
                                    m * 16 + ((lane >> 3) & 1) * 8));
        Ldmatrix4Trans(b, SmemAddr(sb + (kc * 16 + (lane & 7) + (((lane >> 3) & 1) << 3)) * kBLd +
                                   np * 16 + (lane >> 4) * 8));
        Mma(st[j][0], af, b[0], b[1]);
        Mma(st[j][1], af, b[2], b[3]);
      }
    }
    store_state_smem();
    __syncthreads();  // the stage is free for the load issued next iteration
  }

#pragma unroll
  for (int j = 0; j < S::kPairsPerWarp; ++j) {
    const int pair = warp + kWarps * j;
    if (pair >= S::kPairs) continue;
    const int m = pair / (N / 16), np = pair % (N / 16);
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int half = 0; half < 2; ++half)
        *reinterpret_cast<float2*>(state + (m * 16 + g + 8 * half) * N + np * 16 + h * 8 + 2 * tq) =
            make_float2(st[j][h][2 * half], st[j][h][2 * half + 1]);
  }
}

// ---------------------------------------------------------------------------------------------
// Parallel scan: chunk states (K1), state passing (K2), chunk outputs (K3).

template <int N, int PB>
struct PartShape {
  static constexpr int kXLd = PB + kPad;
  static constexpr int kBLd = N + kPad;
  static constexpr int kPairs = (PB / 16) * (N / 16);
  static constexpr int kPairsPerWarp = (kPairs + kWarps - 1) / kWarps;
  // K1: x | B | X weighted (bf16), then raw dt, cum, dt, w (float).
  static constexpr size_t kStateSmem =
      sizeof(bf16) * (2 * kL * kXLd + kL * kBLd) + sizeof(float) * 4 * kL;
  // K3: x | B | C | incoming state (bf16), then raw dt, cum, dt, w (float).
  static constexpr size_t kOutputSmem =
      sizeof(bf16) * (kL * kXLd + 2 * kL * kBLd + PB * kBLd) + sizeof(float) * 4 * kL;
};

// Warp 0: dt, its inclusive cumulative sum times A, and w_s = exp(cum_last - cum_s) dt_s for the
// chunk's kL tokens (zero past len).
__device__ __forceinline__ void ChunkCumsum(int lane, const float* raw, int len, float dt_bias,
                                            float a, float lo, float hi, float* s_cum, float* s_dt,
                                            float* s_w) {
  float dt[2], v[2];
#pragma unroll
  for (int e = 0; e < 2; ++e) {
    const int s = 2 * lane + e;
    dt[e] = s < len ? Dt(raw[s], dt_bias, lo, hi) : 0.0f;
    v[e] = dt[e] * a;
  }
  const float local = v[0] + v[1];
  float incl = local;
#pragma unroll
  for (int off = 1; off < 32; off <<= 1) {
    const float up = __shfl_up_sync(0xffffffffu, incl, off);
    if (lane >= off) incl += up;
  }
  const float cum0 = incl - local + v[0], cum1 = incl;
  const float last = __shfl_sync(0xffffffffu, incl, 31);
  s_cum[2 * lane] = cum0;
  s_cum[2 * lane + 1] = cum1;
  s_dt[2 * lane] = dt[0];
  s_dt[2 * lane + 1] = dt[1];
  s_w[2 * lane] = __expf(last - cum0) * dt[0];
  s_w[2 * lane + 1] = __expf(last - cum1) * dt[1];
}

struct ChunkCta {
  int global, head, pb, first, len;
};

__device__ __forceinline__ ChunkCta LocateChunk(const Mamba2SsdParams& p, int num_pb) {
  const int per_chunk = p.num_heads * num_pb;
  const Mamba2ChunkItem ck = p.chunks[blockIdx.x / per_chunk];
  const Mamba2ScanItem item = p.items[ck.item];
  ChunkCta c;
  c.global = ck.global;
  c.head = (blockIdx.x % per_chunk) / num_pb;
  c.pb = blockIdx.x % num_pb;
  c.first = item.first_token + ck.chunk * kL;
  c.len = min(kL, item.num_tokens - ck.chunk * kL);
  return c;
}

// cp.async of columns [col, col + kWidth) of the chunk's kL rows into dst (row stride kLd); rows
// past len are zero-filled.
template <int kWidth, int kLd>
__device__ __forceinline__ void LoadRows(bf16* dst, const Mamba2SsdParams& p, const ChunkCta& c,
                                         int col, int tid) {
  constexpr int kChunks = kWidth / 8;
  const bf16* xbc = static_cast<const bf16*>(p.xbc);
  for (int i = tid; i < kL * kChunks; i += kThreads) {
    const int r = i / kChunks, k = i % kChunks;
    const bool valid = r < c.len;
    CpAsync16(SmemAddr(dst + r * kLd + k * 8),
              xbc + static_cast<int64_t>(c.first + (valid ? r : 0)) * p.xbc_stride + col + k * 8,
              valid);
  }
}

__device__ __forceinline__ void LoadDt(float* dst, const Mamba2SsdParams& p, const ChunkCta& c,
                                       int tid) {
  if (tid < kL) {
    const bool valid = tid < c.len;
    CpAsync4(SmemAddr(dst + tid),
             p.dt + static_cast<int64_t>(c.first + (valid ? tid : 0)) * p.dt_stride + c.head,
             valid);
  }
}

// K1: the chunk's own contribution to the state, sum_s exp(cum_last - cum_s) dt_s x_s B_s^T, in
// fp32 to chunk_states, and the chunk's total decay to chunk_decay.
template <int N, int PB>
__global__ void __launch_bounds__(kThreads) Mamba2ChunkStateKernel(const Mamba2SsdParams p) {
  using S = PartShape<N, PB>;
  constexpr int kXLd = S::kXLd, kBLd = S::kBLd;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  bf16* sx = reinterpret_cast<bf16*>(smem_raw);
  bf16* sb = sx + kL * kXLd;
  bf16* s_xw = sb + kL * kBLd;
  float* s_raw = reinterpret_cast<float*>(s_xw + kL * kXLd);
  float* s_cum = s_raw + kL;
  float* s_dt = s_cum + kL;
  float* s_w = s_dt + kL;
  const ChunkCta c = LocateChunk(p, p.head_dim / PB);
  const int group = c.head / (p.num_heads / p.num_groups);
  const int inner = p.num_heads * p.head_dim;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, tq = lane % 4;
  LoadRows<PB, kXLd>(sx, p, c, c.head * p.head_dim + c.pb * PB, tid);
  LoadRows<N, kBLd>(sb, p, c, inner + group * N, tid);
  LoadDt(s_raw, p, c, tid);
  CpAsyncCommit();
  CpAsyncWait<0>();
  __syncthreads();
  if (warp == 0)
    ChunkCumsum(lane, s_raw, c.len, p.dt_bias[c.head], p.a[c.head], p.dt_min, p.dt_max, s_cum, s_dt,
                s_w);
  __syncthreads();
  for (int i = tid; i < kL * PB / 2; i += kThreads) {
    const int s = i / (PB / 2), k = (i % (PB / 2)) * 2;
    const float2 xv =
        __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(sx + s * kXLd + k));
    const float w = s_w[s];
    *reinterpret_cast<uint32_t*>(s_xw + s * kXLd + k) = PackBf16(xv.x * w, xv.y * w);
  }
  __syncthreads();
  float* out =
      p.chunk_states +
      ((static_cast<int64_t>(c.global) * p.num_heads + c.head) * p.head_dim + c.pb * PB) * N;
#pragma unroll
  for (int j = 0; j < S::kPairsPerWarp; ++j) {
    const int pair = warp + kWarps * j;
    if (pair >= S::kPairs) continue;
    const int m = pair / (N / 16), np = pair % (N / 16);
    float acc[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
#pragma unroll
    for (int kc = 0; kc < 4; ++kc) {
      uint32_t af[4], b[4];
      Ldmatrix4Trans(af, SmemAddr(s_xw + (kc * 16 + (lane & 7) + ((lane >> 4) << 3)) * kXLd +
                                  m * 16 + ((lane >> 3) & 1) * 8));
      Ldmatrix4Trans(b, SmemAddr(sb + (kc * 16 + (lane & 7) + (((lane >> 3) & 1) << 3)) * kBLd +
                                 np * 16 + (lane >> 4) * 8));
      Mma(acc[0], af, b[0], b[1]);
      Mma(acc[1], af, b[2], b[3]);
    }
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int half = 0; half < 2; ++half)
        *reinterpret_cast<float2*>(out + (m * 16 + g + 8 * half) * N + np * 16 + h * 8 + 2 * tq) =
            make_float2(acc[h][2 * half], acc[h][2 * half + 1]);
  }
  if (c.pb == 0 && tid == 0)
    p.chunk_decay[static_cast<int64_t>(c.global) * p.num_heads + c.head] = __expf(s_cum[kL - 1]);
}

// K2: per (item, head, float4 of the state), walks the item's chunks in order: writes the
// incoming state (bf16) of each chunk, then carry <- decay * carry + the chunk's contribution;
// the final carry goes to the slot.
__global__ void __launch_bounds__(kThreads)
    Mamba2StatePassKernel(const Mamba2SsdParams p, int blocks_per_head) {
  const int per_item = p.num_heads * blocks_per_head;
  const Mamba2ScanItem item = p.items[blockIdx.x / per_item];
  const int head = (blockIdx.x % per_item) / blocks_per_head;
  const int f = (blockIdx.x % blocks_per_head) * kThreads + threadIdx.x;
  const int64_t head_elems = static_cast<int64_t>(p.head_dim) * p.state_size;
  if (f >= head_elems / 4) return;
  float4* slot = reinterpret_cast<float4*>(
      p.ssm_state + (static_cast<int64_t>(item.slot) * p.num_heads + head) * head_elems);
  float4 carry = item.fresh ? make_float4(0.0f, 0.0f, 0.0f, 0.0f) : slot[f];
  const int num_chunks = (item.num_tokens + kL - 1) / kL;
  constexpr int kBatch = 8;  // loads in flight per thread: the carry chain only needs FMAs
  for (int c0 = 0; c0 < num_chunks; c0 += kBatch) {
    float4 local[kBatch];
    float decay[kBatch];
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      if (c0 + u >= num_chunks) continue;
      const int64_t base = static_cast<int64_t>(item.chunk_base + c0 + u) * p.num_heads + head;
      local[u] = reinterpret_cast<const float4*>(p.chunk_states + base * head_elems)[f];
      decay[u] = p.chunk_decay[base];
    }
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      if (c0 + u >= num_chunks) continue;
      const int64_t base = static_cast<int64_t>(item.chunk_base + c0 + u) * p.num_heads + head;
      reinterpret_cast<uint2*>(static_cast<bf16*>(p.chunk_inputs) + base * head_elems)[f] =
          make_uint2(PackBf16(carry.x, carry.y), PackBf16(carry.z, carry.w));
      carry.x = carry.x * decay[u] + local[u].x;
      carry.y = carry.y * decay[u] + local[u].y;
      carry.z = carry.z * decay[u] + local[u].z;
      carry.w = carry.w * decay[u] + local[u].w;
    }
  }
  slot[f] = carry;
}

// K3: the chunk's outputs, Y = exp(cum_l) C S_in^T + G X + D X, from its incoming state.
template <int N, int PB>
__global__ void __launch_bounds__(kThreads) Mamba2ChunkOutputKernel(const Mamba2SsdParams p) {
  using S = PartShape<N, PB>;
  constexpr int kXLd = S::kXLd, kBLd = S::kBLd;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  bf16* sx = reinterpret_cast<bf16*>(smem_raw);
  bf16* sb = sx + kL * kXLd;
  bf16* sc = sb + kL * kBLd;
  bf16* s_state = sc + kL * kBLd;
  float* s_raw = reinterpret_cast<float*>(s_state + PB * kBLd);
  float* s_cum = s_raw + kL;
  float* s_dt = s_cum + kL;
  float* s_w = s_dt + kL;
  const ChunkCta c = LocateChunk(p, p.head_dim / PB);
  const int group = c.head / (p.num_heads / p.num_groups);
  const int inner = p.num_heads * p.head_dim;
  const int x_col = c.head * p.head_dim + c.pb * PB;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, tq = lane % 4;
  LoadRows<PB, kXLd>(sx, p, c, x_col, tid);
  LoadRows<N, kBLd>(sb, p, c, inner + group * N, tid);
  LoadRows<N, kBLd>(sc, p, c, inner + (p.num_groups + group) * N, tid);
  LoadDt(s_raw, p, c, tid);
  const bf16* s_in =
      static_cast<const bf16*>(p.chunk_inputs) +
      ((static_cast<int64_t>(c.global) * p.num_heads + c.head) * p.head_dim + c.pb * PB) * N;
  for (int i = tid; i < PB * (N / 8); i += kThreads) {
    const int r = i / (N / 8), k = i % (N / 8);
    CpAsync16(SmemAddr(s_state + r * kBLd + k * 8), s_in + r * N + k * 8, true);
  }
  CpAsyncCommit();
  CpAsyncWait<0>();
  __syncthreads();
  if (warp == 0)
    ChunkCumsum(lane, s_raw, c.len, p.dt_bias[c.head], p.a[c.head], p.dt_min, p.dt_max, s_cum, s_dt,
                s_w);
  __syncthreads();

  const int row0 = warp * 16;
  float gacc[8][4];
  float yacc[PB / 8][4];
#pragma unroll
  for (int i = 0; i < 8; ++i) gacc[i][0] = gacc[i][1] = gacc[i][2] = gacc[i][3] = 0.0f;
#pragma unroll
  for (int i = 0; i < PB / 8; ++i) yacc[i][0] = yacc[i][1] = yacc[i][2] = yacc[i][3] = 0.0f;
#pragma unroll
  for (int kk = 0; kk < N / 16; ++kk) {
    uint32_t af[4];
    Ldmatrix4(af, SmemAddr(sc + (row0 + (lane & 15)) * kBLd + kk * 16 + (lane >> 4) * 8));
#pragma unroll
    for (int np = 0; np < 4; ++np) {
      if (np > warp) continue;
      uint32_t b[4];
      Ldmatrix4(b, SmemAddr(sb + (np * 16 + (lane & 7) + ((lane >> 4) << 3)) * kBLd + kk * 16 +
                            ((lane >> 3) & 1) * 8));
      Mma(gacc[2 * np], af, b[0], b[1]);
      Mma(gacc[2 * np + 1], af, b[2], b[3]);
    }
#pragma unroll
    for (int np = 0; np < PB / 16; ++np) {
      uint32_t b[4];
      Ldmatrix4(b, SmemAddr(s_state + (np * 16 + (lane & 7) + ((lane >> 4) << 3)) * kBLd + kk * 16 +
                            ((lane >> 3) & 1) * 8));
      Mma(yacc[2 * np], af, b[0], b[1]);
      Mma(yacc[2 * np + 1], af, b[2], b[3]);
    }
  }
  const float cum_row[2] = {s_cum[row0 + g], s_cum[row0 + g + 8]};
#pragma unroll
  for (int nt = 0; nt < 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int l = row0 + g + 8 * (e >> 1), s = nt * 8 + 2 * tq + (e & 1);
      gacc[nt][e] = s <= l ? gacc[nt][e] * __expf(cum_row[e >> 1] - s_cum[s]) * s_dt[s] : 0.0f;
    }
  const float decay_row[2] = {__expf(cum_row[0]), __expf(cum_row[1])};
#pragma unroll
  for (int nt = 0; nt < PB / 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) yacc[nt][e] *= decay_row[e >> 1];
#pragma unroll
  for (int kc = 0; kc < 4; ++kc) {
    if (kc > warp) continue;
    const uint32_t ga[4] = {PackBf16(gacc[2 * kc][0], gacc[2 * kc][1]),
                            PackBf16(gacc[2 * kc][2], gacc[2 * kc][3]),
                            PackBf16(gacc[2 * kc + 1][0], gacc[2 * kc + 1][1]),
                            PackBf16(gacc[2 * kc + 1][2], gacc[2 * kc + 1][3])};
#pragma unroll
    for (int dp = 0; dp < PB / 16; ++dp) {
      uint32_t b[4];
      Ldmatrix4Trans(b, SmemAddr(sx + (kc * 16 + (lane & 7) + (((lane >> 3) & 1) << 3)) * kXLd +
                                 dp * 16 + (lane >> 4) * 8));
      Mma(yacc[2 * dp], ga, b[0], b[1]);
      Mma(yacc[2 * dp + 1], ga, b[2], b[3]);
    }
  }
  const float d_skip = p.d[c.head];
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int l = row0 + g + 8 * half;
    if (l >= c.len) continue;
    float* out = p.y + static_cast<int64_t>(c.first + l) * inner + x_col;
#pragma unroll
    for (int nt = 0; nt < PB / 8; ++nt) {
      const int k = nt * 8 + 2 * tq;
      const float2 xv =
          __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(sx + l * kXLd + k));
      *reinterpret_cast<float2*>(out + k) =
          make_float2(yacc[nt][2 * half] + d_skip * xv.x, yacc[nt][2 * half + 1] + d_skip * xv.y);
    }
  }
}

template <int N, int PB>
void LaunchParallel(const Mamba2SsdParams& p, cudaStream_t stream) {
  using S = PartShape<N, PB>;
  auto state_kernel = Mamba2ChunkStateKernel<N, PB>;
  auto output_kernel = Mamba2ChunkOutputKernel<N, PB>;
  static const bool configured = [&] {
    cudaFuncSetAttribute(state_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, S::kStateSmem);
    cudaFuncSetAttribute(output_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                         S::kOutputSmem);
    return true;
  }();
  (void)configured;
  const int blocks = p.num_chunks * p.num_heads * (p.head_dim / PB);
  state_kernel<<<blocks, kThreads, S::kStateSmem, stream>>>(p);
  const int blocks_per_head = (p.head_dim * p.state_size / 4 + kThreads - 1) / kThreads;
  Mamba2StatePassKernel<<<p.num_items * p.num_heads * blocks_per_head, kThreads, 0, stream>>>(
      p, blocks_per_head);
  output_kernel<<<blocks, kThreads, S::kOutputSmem, stream>>>(p);
}

template <int PB>
void DispatchParallel(const Mamba2SsdParams& p, cudaStream_t stream) {
  switch (p.state_size) {
    case 16:
      LaunchParallel<16, PB>(p, stream);
      break;
    case 32:
      LaunchParallel<32, PB>(p, stream);
      break;
    case 64:
      LaunchParallel<64, PB>(p, stream);
      break;
    case 128:
      LaunchParallel<128, PB>(p, stream);
      break;
    case 256:
      LaunchParallel<256, PB>(p, stream);
      break;
    default:
      break;
  }
}

constexpr int kMaxDim = 256;

// One CTA per (decode item, head); thread-level float4 over the flattened [P, N] state.
template <int N>
__global__ void __launch_bounds__(kThreads) Mamba2DecodeKernel(const Mamba2SsdParams p) {
  __shared__ float s_x[kMaxDim], s_y[kMaxDim], s_b[N], s_c[N];
  const Mamba2ScanItem item = p.items[blockIdx.x / p.num_heads];
  const int head = blockIdx.x % p.num_heads;
  const int P = p.head_dim;
  const int group = head / (p.num_heads / p.num_groups);
  const int inner = p.num_heads * P;
  const bf16* row =
      static_cast<const bf16*>(p.xbc) + static_cast<int64_t>(item.first_token) * p.xbc_stride;
  const int tid = threadIdx.x, lane = tid % 32;
  for (int i = tid; i < P; i += kThreads) {
    s_x[i] = ToFloat(row[head * P + i]);
    s_y[i] = 0.0f;
  }
  for (int i = tid; i < N; i += kThreads) {
    s_b[i] = ToFloat(row[inner + group * N + i]);
    s_c[i] = ToFloat(row[inner + (p.num_groups + group) * N + i]);
  }
  const float dt = Dt(p.dt[static_cast<int64_t>(item.first_token) * p.dt_stride + head],
                      p.dt_bias[head], p.dt_min, p.dt_max);
  const float decay = expf(dt * p.a[head]);
  __syncthreads();
  float4* state = reinterpret_cast<float4*>(
      p.ssm_state + (static_cast<int64_t>(item.slot) * p.num_heads + head) * P * N);
  const int total = P * N / 4;  // a multiple of 64: whole warps take part in every round
  constexpr int kUnroll = 4;
  constexpr int kLanesPerRow = N / 4 < 32 ? N / 4 : 32;
  for (int base = tid; base < total; base += kUnroll * kThreads) {
    float4 s[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int f = base + u * kThreads;
      s[u] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      if (f < total && !item.fresh) s[u] = state[f];
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int f = base + u * kThreads;
      if (f >= total) continue;  // warp-uniform
      const int r = (4 * f) / N, n = (4 * f) % N;
      const float xdt = s_x[r] * dt;
      float4 v = s[u];
      v.x = v.x * decay + xdt * s_b[n];
      v.y = v.y * decay + xdt * s_b[n + 1];
      v.z = v.z * decay + xdt * s_b[n + 2];
      v.w = v.w * decay + xdt * s_b[n + 3];
      state[f] = v;
      float part = v.x * s_c[n] + v.y * s_c[n + 1] + v.z * s_c[n + 2] + v.w * s_c[n + 3];
#pragma unroll
      for (int off = kLanesPerRow / 2; off > 0; off >>= 1)
        part += __shfl_xor_sync(0xffffffffu, part, off);
      if ((lane & (kLanesPerRow - 1)) == 0) atomicAdd(&s_y[r], part);
    }
  }
  __syncthreads();
  const float d_skip = p.d[head];
  float* out = p.y + static_cast<int64_t>(item.first_token) * inner + head * P;
  for (int i = tid; i < P; i += kThreads) out[i] = s_y[i] + d_skip * s_x[i];
}

template <int N, int PB>
void LaunchScan(const Mamba2SsdParams& p, cudaStream_t stream) {
  constexpr size_t smem = ScanShape<N, PB>::kSmemBytes;
  auto kernel = Mamba2ChunkScanKernel<N, PB>;
  static const bool configured = [&] {
    cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    return true;
  }();
  (void)configured;
  const int blocks = p.num_items * p.num_heads * (p.head_dim / PB);
  kernel<<<blocks, kThreads, smem, stream>>>(p);
}

template <int PB>
void DispatchScan(const Mamba2SsdParams& p, cudaStream_t stream) {
  switch (p.state_size) {
    case 16:
      LaunchScan<16, PB>(p, stream);
      break;
    case 32:
      LaunchScan<32, PB>(p, stream);
      break;
    case 64:
      LaunchScan<64, PB>(p, stream);
      break;
    case 128:
      LaunchScan<128, PB>(p, stream);
      break;
    case 256:
      LaunchScan<256, PB>(p, stream);
      break;
    default:
      break;
  }
}

}  // namespace

const char* Mamba2SsdUnsupported(int head_dim, int state_size, int num_groups, int conv_kernel) {
  if (head_dim <= 0 || head_dim % 16 != 0 || head_dim > kMaxDim)
    return "head_dim must be a multiple of 16 and at most 256";
  if (state_size != 16 && state_size != 32 && state_size != 64 && state_size != 128 &&
      state_size != 256)
    return "state_size must be 16, 32, 64, 128 or 256";
  if (num_groups <= 0) return "num_groups must be positive";
  if (conv_kernel < 1 || conv_kernel > kMamba2MaxConvKernel) return "conv_kernel must be in [1, 8]";
  return "";
}

void LaunchMamba2ChunkScan(const Mamba2SsdParams& p, int num_sms, cudaStream_t stream) {
  if (p.num_items == 0) return;
  // 32-row P blocks halve the redundant C B^T work; 16-row blocks double the CTAs when the
  // step has too few (request, head) pairs to fill the SMs twice over.
  const bool wide = p.head_dim % 32 == 0 &&
                    int64_t{p.num_items} * p.num_heads * (p.head_dim / 32) >= 2 * int64_t{num_sms};
  if (wide) {
    DispatchScan<32>(p, stream);
  } else {
    DispatchScan<16>(p, stream);
  }
}

void LaunchMamba2ParallelScan(const Mamba2SsdParams& p, cudaStream_t stream) {
  if (p.num_items == 0 || p.num_chunks == 0) return;
  // Every chunk is its own CTA here, so parallelism is ample: 32-row P blocks when P allows.
  if (p.head_dim % 32 == 0) {
    DispatchParallel<32>(p, stream);
  } else {
    DispatchParallel<16>(p, stream);
  }
}

void LaunchMamba2DecodeStep(const Mamba2SsdParams& p, cudaStream_t stream) {
  if (p.num_items == 0) return;
  const int blocks = p.num_items * p.num_heads;
  switch (p.state_size) {
    case 16:
      Mamba2DecodeKernel<16><<<blocks, kThreads, 0, stream>>>(p);
      break;
    case 32:
      Mamba2DecodeKernel<32><<<blocks, kThreads, 0, stream>>>(p);
      break;
    case 64:
      Mamba2DecodeKernel<64><<<blocks, kThreads, 0, stream>>>(p);
      break;
    case 128:
      Mamba2DecodeKernel<128><<<blocks, kThreads, 0, stream>>>(p);
      break;
    case 256:
      Mamba2DecodeKernel<256><<<blocks, kThreads, 0, stream>>>(p);
      break;
    default:
      break;
  }
}

}  // namespace junction::cuda
