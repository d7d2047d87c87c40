// PaTH decode: one fused pass per (key split, kv head) over the request's cached keys, on tensor
// cores. A CTA streams 64-key tiles of K and V (and the keys' forget sums) into a cp.async ring,
// the way flash decode does; each of its 4 warps takes 16 keys of a tile and
//   - multiplies them by one 16-row operand A = [the group's queries | w_hi | w_lo | 0]:
//     rows 0..7 give q.k for every query head, rows 8 + 9 give k.w with w = w_hi + w_lo split
//     into two bf16 rows (exact to ~2^-17, so k.w keeps fp32 accuracy although the tensor cores
//     take bf16);
//   - scores q.k_new = q.k - beta (k.w)(q.w) with an online softmax and adds P V;
//   - writes its keys back updated, k <- k - beta (k.w) w in fp32 (16-byte coalesced stores),
//     and the new token's key unchanged at its slot.
// Split partials (O, log2-sum-exp) are merged by PathMergeKernel.
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
using path::PackBf16;
using path::Swizzle;

constexpr int kB = kPathBlock;             // keys per tile
constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kWarpKeys = kB / kWarps;     // 16: one m16n8k16 k-step of P V
constexpr int kRows = 16;                  // rows of A
constexpr int kMaxG = kPathMaxGroup;       // query rows 0..7
constexpr int kWHi = kMaxG, kWLo = kMaxG + 1;
constexpr int kStages = 2;
constexpr float kLog2e = 1.4426950408889634f;

template <int D>
struct DecodeSmem {
  static constexpr int kTile = kB * D;
  // Per stage: K, V [64][D] bf16 (swizzled), F [64][kMaxG] float, cache row of each key.
  static constexpr size_t kStageBytes = size_t{2} * kTile * 2 + kB * kMaxG * 4 + kB * 4;
  // The end-of-CTA merge of the warps' softmax states reuses the ring.
  static constexpr size_t kMergeBytes = size_t{kWarps} * kMaxG * (D + 2) * 4;
  static constexpr size_t kRingBytes =
      kStages * kStageBytes > kMergeBytes ? kStages * kStageBytes : kMergeBytes;
  // After the ring: A [16][D] bf16, q.w [kMaxG], beta k.w of the tile's keys [64].
  static constexpr size_t kBytes = kRingBytes + kRows * D * 2 + kMaxG * 4 + kB * 4;
  static_assert(kStageBytes % 16 == 0 && kRingBytes % 16 == 0, "16-byte aligned regions");
};

template <int N>
__device__ __forceinline__ void Zero(float (&c)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i) c[i][0] = c[i][1] = c[i][2] = c[i][3] = 0.0f;
}

// The bf16 residual of x: x - bf16(x) (exact in fp32).
__device__ __forceinline__ float Residual(float x) {
  return x - __bfloat162float(__float2bfloat16_rn(x));
}

// 3 CTAs per SM by shared memory at d=128 (~74 KB each); keep the registers to that too.
template <int D>
__global__ void __launch_bounds__(kThreads, 3) PathDecodeKernel(const PathParams p) {
  using S = DecodeSmem<D>;
  constexpr int kC = D / 8;               // 16-byte chunks per row
  constexpr int kTile = S::kTile;
  constexpr int kPerPass = 32 / kC;       // keys a warp rewrites per pass
  extern __shared__ __align__(128) unsigned char smem_raw[];
  // The kv head varies fastest: concurrent CTAs read all heads of the same cache rows.
  const int g = blockIdx.x % p.num_kv_heads;
  const PathDecodeItem item = p.decode_items[blockIdx.x / p.num_kv_heads];
  const PathChunkDesc chunk = p.chunks[item.chunk];
  const int pos = chunk.num_computed;  // the new token's position
  const int64_t token = chunk.q_start;
  const int group = p.num_heads / p.num_kv_heads;
  const int32_t* table = p.block_tables + chunk.block_table_offset;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const bool gate = p.log_gate != nullptr;
  const Bf16* qkv = static_cast<const Bf16*>(p.qkv);
  Bf16* k_cache = static_cast<Bf16*>(p.k_cache);
  const Bf16* v_cache = static_cast<const Bf16*>(p.v_cache);
  const Bf16* q_row = qkv + token * p.qkv_stride + int64_t{g} * group * D;
  const Bf16* new_key = qkv + token * p.qkv_stride + int64_t{p.num_heads + g} * D;
  const float* w_row = p.w + (token * p.num_kv_heads + g) * D;
  const float beta = p.beta[token * p.num_kv_heads + g];

  Bf16* sa = reinterpret_cast<Bf16*>(smem_raw + S::kRingBytes);
  float* sqw = reinterpret_cast<float*>(sa + kRows * D);
  float* scoeff = sqw + kMaxG;
  auto stage_k = [&](int s) { return reinterpret_cast<Bf16*>(smem_raw + s * S::kStageBytes); };
  auto stage_f = [&](int s) { return reinterpret_cast<float*>(stage_k(s) + 2 * kTile); };
  auto stage_row = [&](int s) { return reinterpret_cast<int*>(stage_f(s) + kB * kMaxG); };

  auto load = [&](int s, int t) {
    Bf16* sk = stage_k(s);
    Bf16* sv = sk + kTile;
    float* sf = stage_f(s);
    int* srow = stage_row(s);
    const int n0 = item.key_begin + t * kB;
    for (int i = tid; i < kB * kC; i += kThreads) {
      const int r = i / kC, ch = i % kC;
      const int key = n0 + r;
      const bool valid = key < item.key_end;
      int row = 0;
      if (valid) row = table[key / p.block_size] * p.block_size + key % p.block_size;
      const int64_t at = (int64_t{row} * p.num_kv_heads + g) * D + ch * 8;
      const int off = Swizzle<D>(r, ch);
      // The new token's key is not in the cache yet (its value is: LaunchPathStore ran).
      CpAsync16(sk + off, key < pos ? k_cache + at : new_key + ch * 8, valid);
      CpAsync16(sv + off, v_cache + at, valid);
      if (ch == 0) srow[r] = row;
    }
    if (gate)
      for (int i = tid; i < kB * group; i += kThreads) {
        const int r = i / group, h = i % group;
        const int key = n0 + r;
        const bool valid = key < item.key_end;
        int64_t at = 0;
        if (valid)
          at = (int64_t{table[key / p.block_size]} * p.block_size + key % p.block_size) *
                   p.num_heads + g * group + h;
        path::CpAsync4(sf + r * kMaxG + h, p.f_cache + at, valid);
      }
  };

  const int num_tiles = (item.key_end - item.key_begin + kB - 1) / kB;
  if (num_tiles > 0) load(0, 0);
  CpAsyncCommit();

  // A: the group's queries, w_hi, w_lo, zero rows.
  for (int i = tid; i < kRows * kC; i += kThreads) {
    const int r = i / kC, ch = i % kC;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (r < group) {
      v = *reinterpret_cast<const uint4*>(q_row + int64_t{r} * D + ch * 8);
    } else if (r == kWHi || r == kWLo) {
      const float4 a = *reinterpret_cast<const float4*>(w_row + ch * 8);
      const float4 b = *reinterpret_cast<const float4*>(w_row + ch * 8 + 4);
      const float x[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
      uint32_t* pv = reinterpret_cast<uint32_t*>(&v);
#pragma unroll
      for (int e = 0; e < 4; ++e)
        pv[e] = r == kWHi ? PackBf16(x[2 * e], x[2 * e + 1])
                          : PackBf16(Residual(x[2 * e]), Residual(x[2 * e + 1]));
    }
    *reinterpret_cast<uint4*>(sa + Swizzle<D>(r, ch)) = v;
  }
  // q.w per query head in fp32 (q is bf16, w fp32).
  for (int h = warp; h < group; h += kWarps) {
    float dot = 0.0f;
    for (int c = lane; c < D; c += 32) dot += ToFloat(q_row[int64_t{h} * D + c]) * w_row[c];
    dot = WarpSum(dot);
    if (lane == 0) sqw[h] = dot;
  }
  __syncthreads();

  uint32_t af[D / 16][4];
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk)
    path::Ldmatrix4(af[kk], sa + Swizzle<D>(lane & 15, kk * 2 + (lane >> 4)));
  // This thread's softmax row (the C fragment's c0, c1): query head lane / 4 of the group.
  const int qh = lane / 4;
  const bool head_valid = qh < group;
  const float qw = head_valid ? sqw[qh] : 0.0f;
  const float fq = gate && head_valid ? p.forget[token * p.num_heads + g * group + qh] : 0.0f;
  // This lane's 8 columns of w for the key update.
  const int uch = lane % kC, usub = lane / kC;
  float wu[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) wu[i] = w_row[uch * 8 + i];

  const float scale_log2 = p.scale * kLog2e;
  const int key0 = warp * kWarpKeys;  // this warp's keys within a tile
  float m = -INFINITY, l = 0.0f;
  float o[D / 8][4];
  Zero(o);

  for (int t = 0; t < num_tiles; ++t) {
    if (t + 1 < num_tiles) load((t + 1) % kStages, t + 1);
    CpAsyncCommit();
    CpAsyncWait<kStages - 1>();
    __syncthreads();
    const int s = t % kStages;
    const Bf16* sk = stage_k(s);
    const Bf16* sv = sk + kTile;
    const float* sf = stage_f(s);
    const int* srow = stage_row(s);
    const int n0 = item.key_begin + t * kB;

    // sc[nt]: keys key0 + 8 nt + 2 (lane % 4) + {0, 1}; rows lane / 4 (c0, c1), + 8 (c2, c3).
    float sc[2][4];
    Zero(sc);
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t b[4];
      path::Ldmatrix4(b, sk + Swizzle<D>(key0 + (lane & 7) + ((lane >> 4) << 3),
                                         kk * 2 + ((lane >> 3) & 1)));
      path::Mma(sc[0], af[kk], b[0], b[1]);
      path::Mma(sc[1], af[kk], b[2], b[3]);
    }
    // k.w of this thread's key columns: rows 8 (w_hi) and 9 (w_lo) sit in c2, c3 of lanes 0-3
    // and 4-7. The new key (position pos) is not transformed: coefficient 0.
    float coeff[2][2];
#pragma unroll
    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const float kw = __shfl_sync(0xffffffffu, sc[nt][2 + e], lane & 3) +
                         __shfl_sync(0xffffffffu, sc[nt][2 + e], 4 + (lane & 3));
        const int j = n0 + key0 + nt * 8 + (lane & 3) * 2 + e;
        coeff[nt][e] = j < pos ? beta * kw : 0.0f;
      }
    if (lane < 4)
#pragma unroll
      for (int nt = 0; nt < 2; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) scoeff[key0 + nt * 8 + lane * 2 + e] = coeff[nt][e];

    float mx = -INFINITY;
#pragma unroll
    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int r = key0 + nt * 8 + (lane & 3) * 2 + e;
        float v = -INFINITY;
        if (head_valid && n0 + r < item.key_end) {
          float x = sc[nt][e] - coeff[nt][e] * qw;
          if (gate) x += fq - sf[r * kMaxG + qh];
          v = x * scale_log2;
        }
        sc[nt][e] = v;
        mx = fmaxf(mx, v);
      }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float m_new = fmaxf(m, mx);
    const float base = m_new == -INFINITY ? 0.0f : m_new;
    const float alpha = exp2f(m - base);
    m = m_new;
    float sum = 0.0f;
#pragma unroll
    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        sc[nt][e] = exp2f(sc[nt][e] - base);
        sum += sc[nt][e];
      }
    l = l * alpha + sum;
#pragma unroll
    for (int dt = 0; dt < D / 8; ++dt) {
      o[dt][0] *= alpha;
      o[dt][1] *= alpha;
    }
    // O += P V over the warp's 16 keys (rows 8-15 of P are zero).
    const uint32_t pa[4] = {PackBf16(sc[0][0], sc[0][1]), 0u, PackBf16(sc[1][0], sc[1][1]), 0u};
#pragma unroll
    for (int dp = 0; dp < D / 16; ++dp) {
      uint32_t b[4];
      path::Ldmatrix4Trans(b, sv + Swizzle<D>(key0 + (lane & 7) + (((lane >> 3) & 1) << 3),
                                              dp * 2 + (lane >> 4)));
      path::Mma(o[2 * dp], pa, b[0], b[1]);
      path::Mma(o[2 * dp + 1], pa, b[2], b[3]);
    }

    // Write the warp's keys back, transformed to the new position.
    __syncwarp();
#pragma unroll
    for (int pass = 0; pass < kWarpKeys / kPerPass; ++pass) {
      const int r = key0 + pass * kPerPass + usub;
      if (n0 + r < item.key_end) {
        const uint4 raw = *reinterpret_cast<const uint4*>(sk + Swizzle<D>(r, uch));
        const float c = scoeff[r];
        const __nv_bfloat162* k2 = reinterpret_cast<const __nv_bfloat162*>(&raw);
        uint4 packed;
        uint32_t* pk = reinterpret_cast<uint32_t*>(&packed);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const float2 f = __bfloat1622float2(k2[i]);
          pk[i] = PackBf16(f.x - c * wu[2 * i], f.y - c * wu[2 * i + 1]);
        }
        *reinterpret_cast<uint4*>(k_cache + (int64_t{srow[r]} * p.num_kv_heads + g) * D +
                                  uch * 8) = packed;
      }
    }
    __syncthreads();  // the stage and scoeff are rewritten next
  }

  // Merge the warps' softmax states (rows 0..group-1) through shared memory.
  l += __shfl_xor_sync(0xffffffffu, l, 1);
  l += __shfl_xor_sync(0xffffffffu, l, 2);
  float* stat_m = reinterpret_cast<float*>(smem_raw);  // [kWarps][kMaxG]
  float* stat_l = stat_m + kWarps * kMaxG;             // [kWarps][kMaxG]
  float* so = stat_l + kWarps * kMaxG;                 // [kWarps][kMaxG][D]
  if ((lane & 3) == 0) {
    stat_m[warp * kMaxG + qh] = m;
    stat_l[warp * kMaxG + qh] = l;
  }
#pragma unroll
  for (int dt = 0; dt < D / 8; ++dt) {
    float* dst = so + (warp * kMaxG + qh) * D + dt * 8 + (lane & 3) * 2;
    dst[0] = o[dt][0];
    dst[1] = o[dt][1];
  }
  __syncthreads();
  for (int idx = tid; idx < group * D; idx += kThreads) {
    const int h = idx / D, c = idx % D;
    float mx = -INFINITY;
#pragma unroll
    for (int x = 0; x < kWarps; ++x) mx = fmaxf(mx, stat_m[x * kMaxG + h]);
    float sum = 0.0f, a = 0.0f;
    if (mx != -INFINITY)
#pragma unroll
      for (int x = 0; x < kWarps; ++x) {
        const float f = exp2f(stat_m[x * kMaxG + h] - mx);
        sum += stat_l[x * kMaxG + h] * f;
        a += so[(x * kMaxG + h) * D + c] * f;
      }
    const float value = sum > 0.0f ? a / sum : 0.0f;
    if (item.partial >= 0) {
      const int64_t slot = (int64_t{item.partial} * p.num_kv_heads + g) * group + h;
      p.partial_o[slot * D + c] = value;
      if (c == 0) p.partial_lse[slot] = sum > 0.0f ? mx + log2f(sum) : -INFINITY;
    } else {
      static_cast<Bf16*>(p.o)[(token * p.num_heads + g * group + h) * D + c] =
          FromFloat<Bf16>(value);
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
void LaunchDecode(const PathParams& p, cudaStream_t stream) {
  constexpr size_t smem = DecodeSmem<D>::kBytes;
  static const bool configured = [] {
    cudaFuncSetAttribute(PathDecodeKernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    return true;
  }();
  (void)configured;
  PathDecodeKernel<D><<<p.num_decode_items * p.num_kv_heads, kThreads, smem, stream>>>(p);
}

}  // namespace

void LaunchPathDecode(const PathParams& p, cudaStream_t stream) {
  if (p.num_decode_items == 0) return;
  if (p.head_dim == 64) LaunchDecode<64>(p, stream);
  if (p.head_dim == 128) LaunchDecode<128>(p, stream);
  if (p.num_merges > 0)
    PathMergeKernel<<<dim3(p.num_merges, p.num_kv_heads), kThreads, 0, stream>>>(p);
}

}  // namespace junction::cuda
