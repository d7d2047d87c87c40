// The chunked (WY/UT) Gated DeltaNet prefill: three launches over 64-token chunks (see
// gated_deltanet_kernels.h). 4 warps per CTA; tensor-core products with mma.sync on bf16 tiles
// in shared memory (rows padded by 8 elements); the UT transform's triangular solve, the state
// and every accumulation in fp32. The bf16 operands (q, k, v, A, W, U, H_c, P) cost the GDN
// fixtures far less than the float32 projection, conv and decode inputs did (measured by a CPU
// emulation of each rounding point; see the layer tests).
#include "backends/cuda/kernels/cuda_types.cuh"
#include "backends/cuda/kernels/gated_deltanet_kernels.h"
#include "backends/cuda/kernels/gated_deltanet_mma.h"
#include "backends/cuda/kernels/launch.cuh"

namespace junction::cuda {
namespace {

using bf16 = __nv_bfloat16;
using gdn::LoadA;
using gdn::LoadATrans;
using gdn::LoadBKn;
using gdn::LoadBNk;
using gdn::LoadRows;
using gdn::MbarArrive;
using gdn::MbarArriveOnCpAsync;
using gdn::MbarInit;
using gdn::MbarWait;
using gdn::Mma;
using gdn::PackBf16;
using gdn::SignalProgress;
using gdn::SmemAddr;
using gdn::UnpackBf16;
using gdn::WaitProgress;

constexpr int kThreads = 128;
constexpr int kC = kGdnChunk;

// The passes' progress counters (GdnCoreParams::ready): pass 0 counts the prepare pass's CTAs
// done with (chunk, head), pass 1 the state pass's dv tiles past it (H_c and V_new written).
__device__ __forceinline__ int32_t* ChunkReady(const GdnCoreParams& p, int pass, int chunk, int h) {
  return p.ready + (int64_t(pass) * p.num_chunks + chunk) * p.dims.num_value_heads + h;
}

// Writes a warp's 16 x (8 * kNT) fp32 fragment rows [row0, row0 + 16) as bf16 pairs to
// dst + row * stride + column for rows below `valid`.
template <int kNT>
__device__ __forceinline__ void StoreRows(const float (&acc)[kNT][4], bf16* dst, int64_t stride,
                                          int row0, int valid) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int row = row0 + lane / 4 + 8 * half;
    if (row >= valid) continue;
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt)
      *reinterpret_cast<uint32_t*>(dst + row * stride + nt * 8 + 2 * (lane % 4)) =
          PackBf16(acc[nt][2 * half], acc[nt][2 * half + 1]);
  }
}

// ---- (1) per (chunk, value head): gamma, the UT transform, W and U. ----
// A (bf16) takes the place of L (fp32) once the solve has read it, so four CTAs fit an SM at
// dk = dv = 128 (three before: 64.5 -> 56 us at 4k, H100). V loads under gamma and K K^T.
template <int DK, int DV>
struct PrepareLayout {
  static constexpr int kLdK = DK + 8, kLdV = DV + 8, kLdA = kC + 8, kLdL = kC + 1;
  static_assert(2 * kC * kLdA <= 4 * kC * kLdL);
  static constexpr size_t kBytes =
      2 * size_t(kC * kLdK + kC * kLdV) + 4 * size_t(kC * kLdL + 2 * kC + 32);
};

template <int DK, int DV>
__global__ void __launch_bounds__(kThreads) ChunkPrepareKernel(const GdnCoreParams p) {
  using L = PrepareLayout<DK, DV>;
  extern __shared__ __align__(16) unsigned char smem[];
  bf16* sK = reinterpret_cast<bf16*>(smem);
  bf16* sV = sK + kC * L::kLdK;
  float* sLt = reinterpret_cast<float*>(sV + kC * L::kLdV);  // sLt[j][i] = L[i][j]
  bf16* sA = reinterpret_cast<bf16*>(sLt);                   // after the solve
  float* sG = sLt + kC * L::kLdL;
  float* sB = sG + kC;
  float* sTmp = sB + kC;

  AllowDependentLaunch();  // the state pass follows chunk by chunk (ChunkReady)
  const int hv = p.dims.num_value_heads, chunk_index = blockIdx.x / hv, h = blockIdx.x % hv;
  const GdnChunk chunk = p.chunks[chunk_index];
  const int kh = h / (hv / p.dims.num_key_heads);
  const int c = chunk.num_tokens, t0 = chunk.first_token;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  LoadRows<DK, kThreads>(sK, static_cast<const bf16*>(p.k) + t0 * p.qk_stride + kh * DK,
                         p.qk_stride, c);
  gdn::CpAsyncCommit();
  LoadRows<DV, kThreads>(sV, static_cast<const bf16*>(p.v) + t0 * p.v_stride + h * DV, p.v_stride,
                         c);
  gdn::CpAsyncCommit();
  // gamma: inclusive cumulative sum of g over the chunk (rows past the chunk repeat the last).
  if (tid < kC) {
    const int64_t at = int64_t(t0 + tid) * hv + h;
    float x = tid < c ? p.g[at] : 0.0f;
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
      const float y = __shfl_up_sync(0xffffffffu, x, off);
      if (lane >= off) x += y;
    }
    if (tid == 31) sTmp[0] = x;
    sG[tid] = x;
    sB[tid] = tid < c ? p.beta[at] : 0.0f;
  }
  __syncthreads();
  if (tid >= 32 && tid < kC) sG[tid] += sTmp[0];
  gdn::CpAsyncWait<1>();
  __syncthreads();
  if (tid < kC) p.gamma[(int64_t(chunk_index) * hv + h) * kC + tid] = sG[tid];

  {  // L = strict_lower(diag(beta) (K K^T o exp(gamma_i - gamma_j))), stored transposed.
    float s[kC / 8][4] = {};
#pragma unroll
    for (int kk = 0; kk < DK / 16; ++kk) {
      uint32_t a[4];
      LoadA(a, sK, L::kLdK, 16 * warp, 16 * kk);
#pragma unroll
      for (int np = 0; np < kC / 16; ++np) {
        uint32_t b[4];
        LoadBNk(b, sK, L::kLdK, 16 * np, 16 * kk);
        Mma(s[2 * np], a, b[0], b[1]);
        Mma(s[2 * np + 1], a, b[2], b[3]);
      }
    }
#pragma unroll
    for (int nt = 0; nt < kC / 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int i = 16 * warp + lane / 4 + 8 * (e >> 1);
        const int j = 8 * nt + 2 * (lane % 4) + (e & 1);
        sLt[j * L::kLdL + i] = j < i ? sB[i] * __expf(sG[i] - sG[j]) * s[nt][e] : 0.0f;
      }
  }
  gdn::CpAsyncWait<0>();
  __syncthreads();
  float x[kC];
  if (tid < kC) {
    // Column `tid` of A = (I + L)^-1 by right-looking forward substitution, in registers.
#pragma unroll
    for (int i = 0; i < kC; ++i) x[i] = i == tid ? 1.0f : 0.0f;
#pragma unroll
    for (int j = 0; j < kC; ++j) {
      const float xj = x[j];
#pragma unroll
      for (int i = j + 1; i < kC; ++i) x[i] -= sLt[j * L::kLdL + i] * xj;
    }
  } else {
    // Meanwhile: K rows *= beta exp(gamma), V rows *= beta (in place).
    for (int idx = tid - kC; idx < kC * DK / 2; idx += kThreads - kC) {
      const int r = idx / (DK / 2), col = 2 * (idx % (DK / 2));
      uint32_t* at = reinterpret_cast<uint32_t*>(sK + r * L::kLdK + col);
      const float2 f = UnpackBf16(*at);
      const float scale = sB[r] * __expf(sG[r]);
      *at = PackBf16(f.x * scale, f.y * scale);
    }
    for (int idx = tid - kC; idx < kC * DV / 2; idx += kThreads - kC) {
      const int r = idx / (DV / 2), col = 2 * (idx % (DV / 2));
      uint32_t* at = reinterpret_cast<uint32_t*>(sV + r * L::kLdV + col);
      const float2 f = UnpackBf16(*at);
      *at = PackBf16(f.x * sB[r], f.y * sB[r]);
    }
  }
  __syncthreads();  // every column solved: A may overwrite L
  if (tid < kC) {
#pragma unroll
    for (int i = 0; i < kC; ++i) sA[i * L::kLdA + tid] = __float2bfloat16(x[i]);
  }
  __syncthreads();
  uint32_t af[kC / 16][4];
#pragma unroll
  for (int kk = 0; kk < kC / 16; ++kk) LoadA(af[kk], sA, L::kLdA, 16 * warp, 16 * kk);
  {  // W = A diag(beta exp(gamma)) K
    float acc[DK / 8][4] = {};
#pragma unroll
    for (int kk = 0; kk < kC / 16; ++kk)
#pragma unroll
      for (int np = 0; np < DK / 16; ++np) {
        uint32_t b[4];
        LoadBKn(b, sK, L::kLdK, 16 * kk, 16 * np);
        Mma(acc[2 * np], af[kk], b[0], b[1]);
        Mma(acc[2 * np + 1], af[kk], b[2], b[3]);
      }
    StoreRows<DK / 8>(acc, static_cast<bf16*>(p.w) + (int64_t(t0) * hv + h) * DK, int64_t(hv) * DK,
                      16 * warp, c);
  }
  {  // U = A diag(beta) V
    float acc[DV / 8][4] = {};
#pragma unroll
    for (int kk = 0; kk < kC / 16; ++kk)
#pragma unroll
      for (int np = 0; np < DV / 16; ++np) {
        uint32_t b[4];
        LoadBKn(b, sV, L::kLdV, 16 * kk, 16 * np);
        Mma(acc[2 * np], af[kk], b[0], b[1]);
        Mma(acc[2 * np + 1], af[kk], b[2], b[3]);
      }
    StoreRows<DV / 8>(acc, static_cast<bf16*>(p.u) + (int64_t(t0) * hv + h) * DV, int64_t(hv) * DV,
                      16 * warp, c);
  }
  __syncthreads();
  if (tid == 0) SignalProgress(ChunkReady(p, 0, chunk_index, h));
}

// ---- (2) per (request, value head, dv tile): the state across the request's chunks. ----
// Warp-specialized: a loader warp streams the chunks (W, K, U rows and gamma) through a ring of
// kStages buffers with cp.async, each buffer's arrival and release tracked by an mbarrier, so
// the four state warps run only the chain of products. With the loads in the state warps, their
// address arithmetic was about half of those warps' instructions, and with one warp per
// scheduler each instruction's latency lay on the chain (ncu at 4k, d = 128, H100: 3.7 cycles
// per issued instruction, about 800 instructions per warp and chunk, 32 of them mma).
// A sixth warp talks to the other passes: it waits for the prepare pass's chunks and tells the
// output pass when a chunk's H_c and V_new are out. Its GPU-scope acquire and release drain the
// memory operations in flight of the warp that runs them; in the loader (acquire) that left one
// chunk's copies in flight, and in a state warp (release) it put the drain of the chunk's
// stores on the chain (ncu: 118 -> 131 us at 4k, d = 128).
template <int DK, int DVT, int kStages>
struct StateLayout {
  static constexpr int kLdK = DK + 8, kLdT = DVT + 8;
  static constexpr size_t kStageBytes = 2 * size_t(2 * kC * kLdK + kC * kLdT) + 4 * size_t(kC);
  static constexpr size_t kBarOffset = kStages * kStageBytes + 2 * size_t(DK * kLdT + kC * kLdT);
  static constexpr size_t kBytes = kBarOffset + 8 * size_t(3 * kStages);
  static_assert(kBarOffset % 8 == 0);
};
constexpr int kStateThreads = kThreads + 64;  // four state warps, the loader and the messenger

// The state warps' own barrier (named barrier 1; the loader does not take part).
__device__ __forceinline__ void StateWarpsSync() {
  asm volatile("bar.sync 1, %0;\n" ::"n"(kThreads) : "memory");
}

template <int DK, int DV, int DVT, int kStages>
__global__ void __launch_bounds__(kStateThreads) ChunkStateKernel(const GdnCoreParams p) {
  using L = StateLayout<DK, DVT, kStages>;
  constexpr int kMTiles = DK / 16;
  constexpr int kMPerWarp = kMTiles >= 4 ? kMTiles / 4 : 1;
  constexpr int kNT = DVT / 8;
  extern __shared__ __align__(16) unsigned char smem[];
  // Stage s: W [kC][kLdK], K [kC][kLdK], U [kC][kLdT], gamma [kC] at smem + s * kStageBytes.
  auto stage_w = [&](int s) { return reinterpret_cast<bf16*>(smem + s * L::kStageBytes); };
  auto stage_k = [&](int s) { return stage_w(s) + kC * L::kLdK; };
  auto stage_u = [&](int s) { return stage_k(s) + kC * L::kLdK; };
  auto stage_g = [&](int s) { return reinterpret_cast<float*>(stage_u(s) + kC * L::kLdT); };
  bf16* sH = reinterpret_cast<bf16*>(smem + kStages * L::kStageBytes);  // [DK][kLdT]
  bf16* sVd = sH + DK * L::kLdT;                                        // [kC][kLdT]
  // full[s]: the loader's 32 lanes' copies into stage s landed; empty[s]: the 128 state threads
  // are done with it; prepared[s]: the prepare pass is done with the chunk stage s takes next.
  const uint32_t bars = SmemAddr(smem + L::kBarOffset);
  auto full = [&](int s) { return bars + 8 * s; };
  auto empty = [&](int s) { return bars + 8 * (kStages + s); };
  auto prepared = [&](int s) { return bars + 8 * (2 * kStages + s); };

  const GdnRequest req = p.prefill[blockIdx.x];
  const int hv = p.dims.num_value_heads, h = blockIdx.y, dv0 = blockIdx.z * DVT;
  const int kh = h / (hv / p.dims.num_key_heads);
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int64_t u_stride = int64_t(hv) * DV;
  bf16* u = static_cast<bf16*>(p.u) + h * DV + dv0;
  AllowDependentLaunch();  // the output pass follows chunk by chunk
  if (tid == 0) {
    for (int s = 0; s < kStages; ++s) {
      MbarInit(full(s), 32);
      MbarInit(empty(s), kThreads);
      MbarInit(prepared(s), 1);
    }
  }
  __syncthreads();

  if (warp == kThreads / 32 + 1) {  // the messenger
    // Chunk ci - kLag is reported once its stage is released; kLag < kStages keeps every
    // barrier it waits on within one phase of the one it arrives on.
    constexpr int kLag = kStages - 1;
    auto report = [&](int ci) {
      MbarWait(empty(ci % kStages), (ci / kStages) & 1);
      SignalProgress(ChunkReady(p, 1, req.first_chunk + ci, h));
    };
    if (lane == 0) {
      for (int ci = 0; ci < req.num_chunks; ++ci) {
        WaitProgress(ChunkReady(p, 0, req.first_chunk + ci, h), 1);
        MbarArrive(prepared(ci % kStages));
        if (ci >= kLag) report(ci - kLag);
      }
      for (int ci = req.num_chunks > kLag ? req.num_chunks - kLag : 0; ci < req.num_chunks; ++ci)
        report(ci);
    }
    return;
  }

  if (warp == kThreads / 32) {  // the loader
    const int64_t w_stride = int64_t(hv) * DK;
    const bf16* w = static_cast<const bf16*>(p.w) + h * DK;
    const bf16* k = static_cast<const bf16*>(p.k) + kh * DK;
    for (int ci = 0; ci < req.num_chunks; ++ci) {
      const int s = ci % kStages;
      if (ci >= kStages) MbarWait(empty(s), (ci / kStages - 1) & 1);
      MbarWait(prepared(s), (ci / kStages) & 1);
      const GdnChunk ch = RequestChunk(req, ci);
      LoadRows<DK, 32>(stage_w(s), w + ch.first_token * w_stride, w_stride, ch.num_tokens, lane);
      LoadRows<DK, 32>(stage_k(s), k + ch.first_token * p.qk_stride, p.qk_stride, ch.num_tokens,
                       lane);
      LoadRows<DVT, 32>(stage_u(s), u + ch.first_token * u_stride, u_stride, ch.num_tokens, lane);
      if (lane < kC / 4)
        gdn::CpAsync16(stage_g(s) + 4 * lane,
                       p.gamma + (int64_t(req.first_chunk + ci) * hv + h) * kC + 4 * lane, true);
      MbarArriveOnCpAsync(full(s));
    }
    gdn::CpAsyncWait<0>();
    // The grid ends after the prepare pass's: a kernel that waits for ours waits for both.
    WaitForPrerequisiteGrids();
    return;
  }

  const bool owns_rows = warp * kMPerWarp < kMTiles;
  float st[kMPerWarp][kNT][4];
  float* state = p.state + (int64_t(req.slot) * hv + h) * DK * DV + dv0;
#pragma unroll
  for (int mt = 0; mt < kMPerWarp; ++mt)
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int row = (warp * kMPerWarp + mt) * 16 + lane / 4 + 8 * half;
        float2 v = make_float2(0.0f, 0.0f);
        if (owns_rows && !req.fresh)
          v = *reinterpret_cast<const float2*>(state + row * DV + nt * 8 + 2 * (lane % 4));
        st[mt][nt][2 * half] = v.x;
        st[mt][nt][2 * half + 1] = v.y;
      }

  for (int ci = 0; ci < req.num_chunks; ++ci) {
    const int stage = ci % kStages;
    const GdnChunk ch = RequestChunk(req, ci);
    const bf16* sWs = stage_w(stage);
    const bf16* sKs = stage_k(stage);
    const bf16* sUs = stage_u(stage);
    const float* sGs = stage_g(stage);
    // H_c (the state before this chunk) as bf16: into shared memory and out for kernel (3). The
    // previous chunk's reads of sH ended before its second barrier.
    if (owns_rows) {
      bf16* hg = static_cast<bf16*>(p.h) + (int64_t(req.first_chunk + ci) * hv + h) * DK * DV + dv0;
#pragma unroll
      for (int mt = 0; mt < kMPerWarp; ++mt)
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
          for (int half = 0; half < 2; ++half) {
            const int row = (warp * kMPerWarp + mt) * 16 + lane / 4 + 8 * half;
            const int col = nt * 8 + 2 * (lane % 4);
            const uint32_t bits = PackBf16(st[mt][nt][2 * half], st[mt][nt][2 * half + 1]);
            *reinterpret_cast<uint32_t*>(sH + row * L::kLdT + col) = bits;
            *reinterpret_cast<uint32_t*>(hg + row * DV + col) = bits;
          }
    }
    MbarWait(full(stage), (ci / kStages) & 1);
    StateWarpsSync();
    // V_new = U - W H_c; out in place of U, and scaled by exp(gamma_C - gamma_t) for the update.
    // The previous chunk's reads of sVd ended before every warp reached the barrier above.
    {
      float vn[kNT][4] = {};
#pragma unroll
      for (int kk = 0; kk < DK / 16; ++kk) {
        uint32_t a[4];
        LoadA(a, sWs, L::kLdK, 16 * warp, 16 * kk);
#pragma unroll
        for (int np = 0; np < DVT / 16; ++np) {
          uint32_t b[4];
          LoadBKn(b, sH, L::kLdT, 16 * kk, 16 * np);
          Mma(vn[2 * np], a, b[0], b[1]);
          Mma(vn[2 * np + 1], a, b[2], b[3]);
        }
      }
      const float g_last = sGs[kC - 1];
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int row = 16 * warp + lane / 4 + 8 * half;
        const float d = __expf(g_last - sGs[row]);
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt) {
          const int col = nt * 8 + 2 * (lane % 4);
          const float2 uu =
              UnpackBf16(*reinterpret_cast<const uint32_t*>(sUs + row * L::kLdT + col));
          const float x0 = uu.x - vn[nt][2 * half], x1 = uu.y - vn[nt][2 * half + 1];
          if (row < ch.num_tokens)
            *reinterpret_cast<uint32_t*>(u + (ch.first_token + row) * u_stride + col) =
                PackBf16(x0, x1);
          *reinterpret_cast<uint32_t*>(sVd + row * L::kLdT + col) = PackBf16(x0 * d, x1 * d);
        }
      }
    }
    StateWarpsSync();
    // S <- exp(gamma_C) S + K^T (V_new o exp(gamma_C - gamma)).
    if (owns_rows) {
      const float decay = __expf(sGs[kC - 1]);
#pragma unroll
      for (int mt = 0; mt < kMPerWarp; ++mt)
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
          for (int e = 0; e < 4; ++e) st[mt][nt][e] *= decay;
#pragma unroll
      for (int kk = 0; kk < kC / 16; ++kk)
#pragma unroll
        for (int mt = 0; mt < kMPerWarp; ++mt) {
          uint32_t a[4];
          LoadATrans(a, sKs, L::kLdK, (warp * kMPerWarp + mt) * 16, 16 * kk);
#pragma unroll
          for (int np = 0; np < DVT / 16; ++np) {
            uint32_t b[4];
            LoadBKn(b, sVd, L::kLdT, 16 * kk, 16 * np);
            Mma(st[mt][2 * np], a, b[0], b[1]);
            Mma(st[mt][2 * np + 1], a, b[2], b[3]);
          }
        }
    }
    MbarArrive(empty(stage));  // and H_c, V_new are out (reported by the messenger)
  }
  if (owns_rows) {
#pragma unroll
    for (int mt = 0; mt < kMPerWarp; ++mt)
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const int row = (warp * kMPerWarp + mt) * 16 + lane / 4 + 8 * half;
          *reinterpret_cast<float2*>(state + row * DV + nt * 8 + 2 * (lane % 4)) =
              make_float2(st[mt][nt][2 * half], st[mt][nt][2 * half + 1]);
        }
  }
}

// ---- (3) per (chunk, value head): outputs, with the fused output norm and gate. ----
template <int DK, int DV>
struct OutputLayout {
  static constexpr int kLdK = DK + 8, kLdV = DV + 8;
  static constexpr size_t kBytes =
      2 * size_t(2 * kC * kLdK + kC * kLdV + DK * kLdV) + 4 * size_t(kC);
};

template <int DV>
__device__ __forceinline__ void StoreOutput(const GdnCoreParams& p, float (&o)[DV / 8][4], int t0,
                                            int valid, int h, int row0) {
  const int lane = threadIdx.x % 32, hv = p.dims.num_value_heads;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int row = row0 + lane / 4 + 8 * half;
    float inv = 1.0f;
    if (p.norm_weight != nullptr) {
      float ss = 0.0f;
#pragma unroll
      for (int nt = 0; nt < DV / 8; ++nt)
        ss += o[nt][2 * half] * o[nt][2 * half] + o[nt][2 * half + 1] * o[nt][2 * half + 1];
      ss += __shfl_xor_sync(0xffffffffu, ss, 1);
      ss += __shfl_xor_sync(0xffffffffu, ss, 2);
      inv = rsqrtf(ss / DV + p.norm_eps);
    }
    if (row >= valid) continue;
    const int64_t token = t0 + row;
    bf16* out = static_cast<bf16*>(p.o) + (token * hv + h) * DV;
#pragma unroll
    for (int nt = 0; nt < DV / 8; ++nt) {
      const int col = nt * 8 + 2 * (lane % 4);
      float y0 = o[nt][2 * half] * inv, y1 = o[nt][2 * half + 1] * inv;
      if (p.norm_weight != nullptr) {
        const float add = p.norm_plus_one ? 1.0f : 0.0f;
        y0 *= p.norm_weight[col] + add;
        y1 *= p.norm_weight[col + 1] + add;
      }
      if (p.gate != nullptr) {
        const float2 z =
            *reinterpret_cast<const float2*>(p.gate + token * p.gate_stride + h * DV + col);
        y0 *= gdn::Silu(z.x);
        y1 *= gdn::Silu(z.y);
      }
      *reinterpret_cast<uint32_t*>(out + col) = PackBf16(y0, y1);
    }
  }
}

template <int DK, int DV>
__global__ void __launch_bounds__(kThreads) ChunkOutputKernel(const GdnCoreParams p) {
  using L = OutputLayout<DK, DV>;
  extern __shared__ __align__(16) unsigned char smem[];
  bf16* sQ = reinterpret_cast<bf16*>(smem);
  bf16* sK = sQ + kC * L::kLdK;
  bf16* sV = sK + kC * L::kLdK;
  bf16* sH = sV + kC * L::kLdV;
  float* sG = reinterpret_cast<float*>(sH + DK * L::kLdV);

  const int hv = p.dims.num_value_heads, chunk_index = blockIdx.x / hv, h = blockIdx.x % hv;
  const GdnChunk chunk = p.chunks[chunk_index];
  const int kh = h / (hv / p.dims.num_key_heads);
  const int c = chunk.num_tokens, t0 = chunk.first_token;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int64_t qk_offset = t0 * p.qk_stride + kh * DK;
  if (tid == 0) {  // gamma from the prepare pass, H_c and V_new from every dv tile of the state's
    WaitProgress(ChunkReady(p, 0, chunk_index, h), 1);
    WaitProgress(ChunkReady(p, 1, chunk_index, h), DV / p.state_tile);
  }
  __syncthreads();
  LoadRows<DK, kThreads>(sQ, static_cast<const bf16*>(p.q) + qk_offset, p.qk_stride, c);
  LoadRows<DK, kThreads>(sK, static_cast<const bf16*>(p.k) + qk_offset, p.qk_stride, c);
  LoadRows<DV, kThreads>(sV, static_cast<const bf16*>(p.u) + (int64_t(t0) * hv + h) * DV,
                         int64_t(hv) * DV, c);
  const bf16* hsrc = static_cast<const bf16*>(p.h) + (int64_t(chunk_index) * hv + h) * DK * DV;
  for (int i = tid; i < DK * DV / 8; i += kThreads) {
    const int r = i / (DV / 8), col = 8 * (i % (DV / 8));
    gdn::CpAsync16(sH + r * L::kLdV + col, hsrc + r * DV + col, true);
  }
  if (tid < kC / 4)
    gdn::CpAsync16(sG + 4 * tid, p.gamma + (int64_t(chunk_index) * hv + h) * kC + 4 * tid, true);
  gdn::CpAsyncCommit();
  gdn::CpAsyncWait<0>();
  __syncthreads();

  uint32_t qf[DK / 16][4];
#pragma unroll
  for (int kk = 0; kk < DK / 16; ++kk) LoadA(qf[kk], sQ, L::kLdK, 16 * warp, 16 * kk);
  float s[kC / 8][4] = {};
#pragma unroll
  for (int kk = 0; kk < DK / 16; ++kk)
#pragma unroll
    for (int np = 0; np < kC / 16; ++np) {
      uint32_t b[4];
      LoadBNk(b, sK, L::kLdK, 16 * np, 16 * kk);
      Mma(s[2 * np], qf[kk], b[0], b[1]);
      Mma(s[2 * np + 1], qf[kk], b[2], b[3]);
    }
  const int row0 = 16 * warp;
#pragma unroll
  for (int nt = 0; nt < kC / 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int i = row0 + lane / 4 + 8 * (e >> 1);
      const int j = 8 * nt + 2 * (lane % 4) + (e & 1);
      s[nt][e] = j <= i ? s[nt][e] * __expf(sG[i] - sG[j]) : 0.0f;
    }
  float o[DV / 8][4] = {};
#pragma unroll
  for (int kk = 0; kk < DK / 16; ++kk)
#pragma unroll
    for (int np = 0; np < DV / 16; ++np) {
      uint32_t b[4];
      LoadBKn(b, sH, L::kLdV, 16 * kk, 16 * np);
      Mma(o[2 * np], qf[kk], b[0], b[1]);
      Mma(o[2 * np + 1], qf[kk], b[2], b[3]);
    }
  const float e0 = __expf(sG[row0 + lane / 4]), e1 = __expf(sG[row0 + lane / 4 + 8]);
#pragma unroll
  for (int nt = 0; nt < DV / 8; ++nt) {
    o[nt][0] *= e0;
    o[nt][1] *= e0;
    o[nt][2] *= e1;
    o[nt][3] *= e1;
  }
#pragma unroll
  for (int kk = 0; kk < kC / 16; ++kk) {
    const uint32_t a[4] = {
        PackBf16(s[2 * kk][0], s[2 * kk][1]), PackBf16(s[2 * kk][2], s[2 * kk][3]),
        PackBf16(s[2 * kk + 1][0], s[2 * kk + 1][1]), PackBf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
    for (int np = 0; np < DV / 16; ++np) {
      uint32_t b[4];
      LoadBKn(b, sV, L::kLdV, 16 * kk, 16 * np);
      Mma(o[2 * np], a, b[0], b[1]);
      Mma(o[2 * np + 1], a, b[2], b[3]);
    }
  }
  StoreOutput<DV>(p, o, t0, c, h, row0);
  // The grid ends after the state pass's (and so the prepare pass's): a kernel that waits for
  // ours, as the next launch on the stream does, waits for all three.
  WaitForPrerequisiteGrids();
}

// Launches `kKernel` with kSmem bytes of dynamic shared memory (the limit raised once), as a
// programmatic dependent of the launch before it when `programmatic`.
template <auto kKernel, size_t kSmem, int kBlock = kThreads>
void Launch(dim3 grid, const GdnCoreParams& p, cudaStream_t stream, bool programmatic) {
  static const bool configured = [] {
    cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                         static_cast<int>(kSmem));
    return true;
  }();
  (void)configured;
  LaunchKernelWith(programmatic, kKernel, grid, dim3(kBlock), kSmem, stream, p);
}

// The three passes may overlap: the state pass and then the output pass are launched as
// programmatic dependents, so their CTAs start while the pass before runs. Either way each CTA
// waits on the counters of the (chunk, head) it needs, and the prepare and output grids run
// chunk-major. No CTA waits for one that may not be scheduled: a dependent grid starts only once
// every CTA of the grid before has started (each allows it at its top).
template <int DK, int DV>
void LaunchPrefillDims(const GdnCoreParams& params, cudaStream_t stream) {
  GdnCoreParams p = params;
  const int hv = p.dims.num_value_heads;
  // Overlapping gained at dk = dv = 128 (4k tokens: 0.233 -> 0.213 ms) and lost at 64
  // (0.122 -> 0.169 ms), where more output CTAs fit beside the state pass's and contend with it
  // (H200, 2026-12-07).
  const bool overlap = p.overlap_passes >= 0 ? p.overlap_passes == 1 : DK * DV >= 128 * 128;
  const dim3 chunk_grid(p.num_chunks * hv);
  cudaMemsetAsync(p.ready, 0, 2 * sizeof(int32_t) * p.num_chunks * hv, stream);
  Launch<ChunkPrepareKernel<DK, DV>, PrepareLayout<DK, DV>::kBytes>(chunk_grid, p, stream, false);
  // Narrow dv tiles when requests x heads x 32-wide tiles would leave SMs idle: those few CTAs
  // are latency-bound and take a deeper ring (wider tiles on fewer CTAs were slower: 16 / 32 /
  // 64 columns gave 0.233 / 0.279 / 0.371 ms at 4k, d = 128, H100). With enough requests, two
  // CTAs of the shallow ring share an SM. Three stages leave room for an output CTA beside a
  // state CTA. p.state_tile overrides the choice (benchmarks).
  if constexpr (DV >= 32) {
    const bool wide = p.state_tile != 0 ? p.state_tile == 32
                                        : int64_t(p.num_prefill) * hv * (DV / 32) >= p.num_sms;
    p.state_tile = wide ? 32 : 16;
    if (wide) {
      Launch<ChunkStateKernel<DK, DV, 32, 2>, StateLayout<DK, 32, 2>::kBytes, kStateThreads>(
          dim3(p.num_prefill, hv, DV / 32), p, stream, overlap);
    } else {
      Launch<ChunkStateKernel<DK, DV, 16, 3>, StateLayout<DK, 16, 3>::kBytes, kStateThreads>(
          dim3(p.num_prefill, hv, DV / 16), p, stream, overlap);
    }
  } else {
    p.state_tile = DV;
    Launch<ChunkStateKernel<DK, DV, DV, 3>, StateLayout<DK, DV, 3>::kBytes, kStateThreads>(
        dim3(p.num_prefill, hv, 1), p, stream, overlap);
  }
  Launch<ChunkOutputKernel<DK, DV>, OutputLayout<DK, DV>::kBytes>(chunk_grid, p, stream, overlap);
}

}  // namespace

void LaunchGdnPrefill(const GdnCoreParams& p, cudaStream_t stream) {
  if (p.num_prefill == 0 || p.num_chunks == 0) return;
  const int dk = p.dims.head_k_dim, dv = p.dims.head_v_dim;
  if (dk == 16 && dv == 16) LaunchPrefillDims<16, 16>(p, stream);
  if (dk == 32 && dv == 32) LaunchPrefillDims<32, 32>(p, stream);
  if (dk == 32 && dv == 64) LaunchPrefillDims<32, 64>(p, stream);
  if (dk == 64 && dv == 64) LaunchPrefillDims<64, 64>(p, stream);
  if (dk == 64 && dv == 128) LaunchPrefillDims<64, 128>(p, stream);
  if (dk == 128 && dv == 128) LaunchPrefillDims<128, 128>(p, stream);
}

}  // namespace junction::cuda
