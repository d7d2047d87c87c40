// FlashAttention-2 style kernels over paged KV with mma.sync.m16n8k16 (bf16 / fp16 in, fp32
// accumulate). One template serves both modes:
//   prefill: the kWarps warps of a CTA each own 16 query rows and sweep every K/V tile;
//   decode:  the CTA owns 16 query rows and its 4 warps split every K/V tile by 16 keys, then
//            merge their (max, sum, O) in shared memory (and, across CTAs, through partials
//            that the last split to finish combines).
// K/V tiles of 64 keys are gathered from the paged cache with cp.async into a two-stage ring;
// shared-memory rows are XOR-swizzled in 16-byte chunks so ldmatrix is conflict free.
#include <cfloat>
#include <climits>

#include "backends/cuda/kernels/cuda_types.cuh"
#include "backends/cuda/kernels/flash_attention.h"
#include "backends/cuda/kernels/flash_prefill_sm90.h"
#include "backends/cuda/kernels/launch.cuh"

namespace junction::cuda {
namespace {

__device__ __forceinline__ uint32_t SmemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte asynchronous copy; an invalid source writes zeros (src-size 0).
__device__ __forceinline__ void CpAsync16(uint32_t dst, const void* src, bool valid) {
  const int src_size = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(src_size));
}
__device__ __forceinline__ void CpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void CpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void Ldmatrix4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void Ldmatrix4Trans(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

template <typename T>
__device__ __forceinline__ void Mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                    uint32_t b1);
template <>
__device__ __forceinline__ void Mma<__nv_bfloat16>(float (&c)[4], const uint32_t (&a)[4],
                                                   uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void Mma<__half>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                            uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Element offset of 16-byte chunk `chunk` of row `row` in a [rows][D] swizzled tile.
template <int D>
__device__ __forceinline__ int Swizzle(int row, int chunk) {
  constexpr int kChunks = D / 8;
  constexpr int kMask = (kChunks < 8 ? kChunks : 8) - 1;
  return row * D + ((chunk ^ (row & kMask)) << 3);
}

// The A fragments (m16n8k16, row-major) of the sink query for a warp's 16 rows, read straight
// from global memory: sink tiles are few (num_sinks keys), so no shared-memory staging.
template <typename T, int D>
__device__ __forceinline__ void LoadSinkQuery(uint32_t (&qf)[D / 16][4], const FlashParams& p,
                                              const FlashChunk& chunk, const FlashWorkItem& item,
                                              int warp_row0, int lane, int group, int num_rows) {
  const T* q = static_cast<const T*>(p.q_sink ? p.q_sink : p.q);
  const T* src[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int row = item.row_begin + warp_row0 + lane / 4 + 8 * h;
    src[h] = row < num_rows ? q +
                                  (static_cast<int64_t>(chunk.q_start + row / group) * p.num_heads +
                                   item.kv_head * group + row % group) *
                                      D +
                                  (lane % 4) * 2
                            : nullptr;
  }
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk)
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const T* row = src[i & 1];
      qf[kk][i] = row ? *reinterpret_cast<const uint32_t*>(row + kk * 16 + (i >> 1) * 8) : 0u;
    }
}

// Split-KV decode without a second launch: every split CTA publishes its partial (output and
// log-sum-exp) and counts itself in; the last of a merge's splits to arrive reads all of them
// (from L2: __ldcg, since other CTAs wrote them) into o and zeroes the counter for the next
// launch. Called by the whole CTA after it wrote its own partial.
// `chunk` is the item's (a merge covers one chunk and kv head: the item's).
template <typename T, int D>
__device__ __forceinline__ void MergeIfLastSplit(const FlashParams& p, const FlashWorkItem& item,
                                                 const FlashChunk& chunk, int num_rows, int group,
                                                 int num_threads) {
  constexpr int kR = kFlashDecodeRows;
  __shared__ int is_last;
  const FlashMergeItem merge = p.merges[item.merge];
  __threadfence();  // this thread's partial writes before the count
  __syncthreads();
  if (threadIdx.x == 0)
    is_last = atomicAdd(p.merge_counters + item.merge, 1) == merge.num_splits - 1;
  __syncthreads();
  if (!is_last) return;
  __threadfence();  // the other splits' partials after their counts
  T* out = static_cast<T*>(p.o);
  for (int i = threadIdx.x; i < num_rows * D; i += num_threads) {
    const int r = i / D, d = i % D;
    float mx = -INFINITY;
    for (int s = 0; s < merge.num_splits; ++s)
      mx = fmaxf(mx, __ldcg(p.partial_lse + (merge.first_partial + s) * kR + r));
    float sum = 0.0f, acc = 0.0f;
    if (mx != -INFINITY) {
      for (int s = 0; s < merge.num_splits; ++s) {
        const int64_t slot = merge.first_partial + s;
        const float w = exp2f(__ldcg(p.partial_lse + slot * kR + r) - mx);
        sum += w;
        acc += w * __ldcg(p.partial_o + (slot * kR + r) * D + d);
      }
    }
    const int token = chunk.q_start + r / group;
    const int head = item.kv_head * group + r % group;
    out[(static_cast<int64_t>(token) * p.num_heads + head) * D + d] =
        FromFloat<T>(sum > 0.0f ? acc / sum : 0.0f);
  }
  if (threadIdx.x == 0) p.merge_counters[item.merge] = 0;
}

template <int D, int kWarps, bool kDecode>
struct FlashShape {
  static constexpr int kRows = kDecode ? kFlashDecodeRows : 16 * kWarps;
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kWarpKeys = kDecode ? kFlashKeyTile / kWarps : kFlashKeyTile;
  static constexpr int kSTiles = kWarpKeys / 8;  // n-tiles of S per warp
  static constexpr int kOTiles = D / 8;          // n-tiles of O per warp
  static constexpr int kKSteps = D / 16;         // k-steps of Q.K^T
  template <typename T>
  static constexpr size_t SmemBytes() {
    return sizeof(T) * (kRows * D + 4 * kFlashKeyTile * D);
  }
};

// d=64 prefill tiles fit two CTAs per SM by shared memory; keep the registers to that too.
template <int D, bool kDecode>
constexpr int kMinCtasPerSm = D == 64 && !kDecode ? 2 : 1;

template <typename T, int D, int kWarps, bool kDecode>
__global__ void __launch_bounds__(32 * kWarps, kMinCtasPerSm<D, kDecode>)
    FlashKernel(const FlashParams p) {
  DependentKernelPrologue();
  using S = FlashShape<D, kWarps, kDecode>;
  constexpr int kN = kFlashKeyTile;
  constexpr int kChunks = D / 8;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* sq = reinterpret_cast<T*>(smem_raw);
  T* sk = sq + S::kRows * D;  // [2][kN][D]
  T* sv = sk + 2 * kN * D;    // [2][kN][D]

  const FlashWorkItem item = p.items[blockIdx.x];
  const FlashChunk chunk = p.chunks[item.chunk];
  const int group = p.num_heads / p.num_kv_heads;
  const int num_rows = chunk.q_len * group;
  const int32_t* table = p.block_tables + chunk.block_table_offset;
  const T* q = static_cast<const T*>(p.q);
  const T* k_cache = static_cast<const T*>(p.k_cache);
  const T* v_cache = static_cast<const T*>(p.v_cache);
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;

  for (int i = tid; i < S::kRows * kChunks; i += S::kThreads) {
    const int r = i / kChunks, c = i % kChunks;
    const int row = item.row_begin + r;
    const bool valid = row < num_rows;
    const int token = chunk.q_start + (valid ? row / group : 0);
    const int head = item.kv_head * group + (valid ? row % group : 0);
    CpAsync16(SmemAddr(sq + Swizzle<D>(r, c)),
              q + (static_cast<int64_t>(token) * p.num_heads + head) * D + c * 8, valid);
  }
  // Tiles [0, num_sink_tiles) cover the sink keys [0, sink_end), the rest [key_begin, key_end).
  const int num_sink_tiles = (item.sink_end + kN - 1) / kN;
  const int num_tiles = num_sink_tiles + (item.key_end - item.key_begin + kN - 1) / kN;
  auto tile_begin = [&](int t) {
    return t < num_sink_tiles ? t * kN : item.key_begin + (t - num_sink_tiles) * kN;
  };
  auto load_kv = [&](int stage, int t) {
    T* dk = sk + stage * kN * D;
    T* dv = sv + stage * kN * D;
    const int n0 = tile_begin(t);
    const int end = t < num_sink_tiles ? item.sink_end : item.key_end;
    for (int i = tid; i < kN * kChunks; i += S::kThreads) {
      const int r = i / kChunks, c = i % kChunks;
      const int key = n0 + r;
      const bool valid = key < end;
      int64_t offset = 0;
      if (valid) {
        const int64_t block = table[key / p.block_size];
        offset = ((block * p.block_size + key % p.block_size) * p.num_kv_heads + item.kv_head) * D +
                 c * 8;
      }
      CpAsync16(SmemAddr(dk + Swizzle<D>(r, c)), k_cache + offset, valid);
      CpAsync16(SmemAddr(dv + Swizzle<D>(r, c)), v_cache + offset, valid);
    }
  };

  load_kv(0, 0);
  CpAsyncCommit();

  const int warp_row0 = kDecode ? 0 : warp * 16;
  // This thread's rows (lane/4 and lane/4 + 8): cache position, first window key, sinks end.
  // Rows past the chunk see everything (never written).
  int row_pos[2], row_window[2], row_sinks[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int row = item.row_begin + warp_row0 + lane / 4 + 8 * h;
    row_pos[h] = row < num_rows ? chunk.num_computed + row / group : INT_MAX;
    row_window[h] = row < num_rows && chunk.window > 0 ? max(0, row_pos[h] - chunk.window + 1) : 0;
    row_sinks[h] = min(chunk.num_sinks, row_window[h]);
  }
  const int min_pos = min(row_pos[0], row_pos[1]);
  const int max_window = max(row_window[0], row_window[1]);
  const float scale_log2 = p.scale * 1.4426950408889634f;
  float m[2] = {-INFINITY, -INFINITY};
  float l[2] = {0.0f, 0.0f};
  float o[S::kOTiles][4];
#pragma unroll
  for (int i = 0; i < S::kOTiles; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  uint32_t qf[S::kKSteps][4];
  const int key0 = kDecode ? warp * S::kWarpKeys : 0;  // this warp's keys within a tile

  for (int t = 0; t < num_tiles; ++t) {
    const int n0 = tile_begin(t);
    const bool sink_tile = t < num_sink_tiles;
    if (t + 1 < num_tiles) load_kv((t + 1) & 1, t + 1);
    CpAsyncCommit();
    CpAsyncWait<1>();
    __syncthreads();
    if (t == num_sink_tiles) {
#pragma unroll
      for (int kk = 0; kk < S::kKSteps; ++kk)
        Ldmatrix4(qf[kk], SmemAddr(sq + Swizzle<D>(warp_row0 + (lane & 15), kk * 2 + (lane >> 4))));
    } else if (t == 0) {
      LoadSinkQuery<T, D>(qf, p, chunk, item, warp_row0, lane, group, num_rows);
    }
    const T* tk = sk + (t & 1) * kN * D;
    const T* tv = sv + (t & 1) * kN * D;
    float s[S::kSTiles][4];
#pragma unroll
    for (int i = 0; i < S::kSTiles; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < S::kKSteps; ++kk) {
#pragma unroll
      for (int np = 0; np < S::kSTiles / 2; ++np) {
        uint32_t b[4];
        Ldmatrix4(b, SmemAddr(tk + Swizzle<D>(key0 + np * 16 + (lane & 7) + ((lane >> 4) << 3),
                                              kk * 2 + ((lane >> 3) & 1))));
        Mma<T>(s[2 * np], qf[kk], b[0], b[1]);
        Mma<T>(s[2 * np + 1], qf[kk], b[2], b[3]);
      }
    }
    const int first_key = n0 + key0;
    const int last_key = first_key + S::kWarpKeys - 1;
    if (sink_tile) {
#pragma unroll
      for (int nt = 0; nt < S::kSTiles; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int key = first_key + nt * 8 + (lane % 4) * 2 + (e & 1);
          s[nt][e] = key < row_sinks[e >> 1] ? s[nt][e] * scale_log2 : -INFINITY;
        }
    } else {
      const bool need_mask =
          last_key >= item.key_end || last_key > min_pos || first_key < max_window;
#pragma unroll
      for (int nt = 0; nt < S::kSTiles; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          float v = s[nt][e] * scale_log2;
          if (need_mask) {
            const int key = first_key + nt * 8 + (lane % 4) * 2 + (e & 1);
            if (key >= item.key_end || key > row_pos[e >> 1] || key < row_window[e >> 1])
              v = -INFINITY;
          }
          s[nt][e] = v;
        }
    }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float mx = -INFINITY;
#pragma unroll
      for (int nt = 0; nt < S::kSTiles; ++nt) mx = fmaxf(mx, fmaxf(s[nt][2 * h], s[nt][2 * h + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m[h], mx);
      const float base = m_new == -INFINITY ? 0.0f : m_new;
      const float alpha = exp2f(m[h] - base);
      m[h] = m_new;
      float sum = 0.0f;
#pragma unroll
      for (int nt = 0; nt < S::kSTiles; ++nt) {
        s[nt][2 * h] = exp2f(s[nt][2 * h] - base);
        s[nt][2 * h + 1] = exp2f(s[nt][2 * h + 1] - base);
        sum += s[nt][2 * h] + s[nt][2 * h + 1];
      }
      l[h] = l[h] * alpha + sum;
#pragma unroll
      for (int dt = 0; dt < S::kOTiles; ++dt) {
        o[dt][2 * h] *= alpha;
        o[dt][2 * h + 1] *= alpha;
      }
    }
#pragma unroll
    for (int kc = 0; kc < S::kSTiles / 2; ++kc) {
      const uint32_t a[4] = {PackPair<T>(s[2 * kc][0], s[2 * kc][1]),
                             PackPair<T>(s[2 * kc][2], s[2 * kc][3]),
                             PackPair<T>(s[2 * kc + 1][0], s[2 * kc + 1][1]),
                             PackPair<T>(s[2 * kc + 1][2], s[2 * kc + 1][3])};
#pragma unroll
      for (int dp = 0; dp < S::kOTiles / 2; ++dp) {
        uint32_t b[4];
        Ldmatrix4Trans(
            b, SmemAddr(tv + Swizzle<D>(key0 + kc * 16 + (lane & 7) + (((lane >> 3) & 1) << 3),
                                        dp * 2 + (lane >> 4))));
        Mma<T>(o[2 * dp], a, b[0], b[1]);
        Mma<T>(o[2 * dp + 1], a, b[2], b[3]);
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
  }

  T* out = static_cast<T*>(p.o);
  if constexpr (!kDecode) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int row = item.row_begin + warp_row0 + lane / 4 + 8 * h;
      if (row >= num_rows) continue;
      const int token = chunk.q_start + row / group;
      const int head = item.kv_head * group + row % group;
      const float inv = l[h] > 0.0f ? 1.0f / l[h] : 0.0f;
      T* dst = out + (static_cast<int64_t>(token) * p.num_heads + head) * D + (lane % 4) * 2;
#pragma unroll
      for (int dt = 0; dt < S::kOTiles; ++dt)
        *reinterpret_cast<uint32_t*>(dst + dt * 8) =
            PackPair<T>(o[dt][2 * h] * inv, o[dt][2 * h + 1] * inv);
    }
  } else {
    // Merge the warps' partial softmax states through shared memory (K/V ring reused).
    constexpr int kR = kFlashDecodeRows;
    float* stat_m = reinterpret_cast<float*>(sk);  // [kWarps][kR]
    float* stat_l = stat_m + kWarps * kR;          // [kWarps][kR]
    float* so = stat_l + kWarps * kR;              // [kWarps][kR][D]
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int r = lane / 4 + 8 * h;
      if (lane % 4 == 0) {
        stat_m[warp * kR + r] = m[h];
        stat_l[warp * kR + r] = l[h];
      }
#pragma unroll
      for (int dt = 0; dt < S::kOTiles; ++dt) {
        float* dst = so + (warp * kR + r) * D + dt * 8 + (lane % 4) * 2;
        dst[0] = o[dt][2 * h];
        dst[1] = o[dt][2 * h + 1];
      }
    }
    __syncthreads();
    // Rows past the chunk (a group smaller than the tile) are neither written nor merged.
    const int valid_rows = min(kR, num_rows - item.row_begin);
    for (int i = tid; i < valid_rows * D; i += S::kThreads) {
      const int r = i / D, d = i % D;
      float mx = -INFINITY;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, stat_m[w * kR + r]);
      float sum = 0.0f, acc = 0.0f;
      if (mx != -INFINITY) {
#pragma unroll
        for (int w = 0; w < kWarps; ++w) {
          const float f = exp2f(stat_m[w * kR + r] - mx);
          sum += stat_l[w * kR + r] * f;
          acc += so[(w * kR + r) * D + d] * f;
        }
      }
      const float value = sum > 0.0f ? acc / sum : 0.0f;
      if (item.partial >= 0) {
        p.partial_o[(static_cast<int64_t>(item.partial) * kR + r) * D + d] = value;
        if (d == 0) p.partial_lse[item.partial * kR + r] = sum > 0.0f ? mx + log2f(sum) : -INFINITY;
      } else {
        const int row = item.row_begin + r;
        const int token = chunk.q_start + row / group;
        const int head = item.kv_head * group + row % group;
        out[(static_cast<int64_t>(token) * p.num_heads + head) * D + d] = FromFloat<T>(value);
      }
    }
    if (item.partial >= 0) MergeIfLastSplit<T, D>(p, item, chunk, num_rows, group, S::kThreads);
  }
}

template <typename T, int D, int kWarps, bool kDecode>
void LaunchFlash(const FlashParams& p, cudaStream_t stream) {
  using S = FlashShape<D, kWarps, kDecode>;
  constexpr size_t smem = S::template SmemBytes<T>();
  auto kernel = FlashKernel<T, D, kWarps, kDecode>;
  static const bool configured = [&] {
    cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    return true;
  }();
  (void)configured;
  if (p.num_items > 0) LaunchKernel(kernel, p.num_items, S::kThreads, smem, stream, p);
}

constexpr int kPrefillWarps = 8;  // 128-row tiles: half the K/V smem reads per row of 4
constexpr int kDecodeWarps = 4;

template <bool kDecode>
void Dispatch(const FlashParams& p, DType dtype, cudaStream_t stream) {
  constexpr int kWarps = kDecode ? kDecodeWarps : kPrefillWarps;
  JUNCTION_DISPATCH_HALF(dtype, {
    switch (p.head_dim) {
      case 16:
        LaunchFlash<T, 16, kWarps, kDecode>(p, stream);
        break;
      case 64:
        LaunchFlash<T, 64, kWarps, kDecode>(p, stream);
        break;
      case 128:
        LaunchFlash<T, 128, kWarps, kDecode>(p, stream);
        break;
      default:
        break;
    }
  });
}

}  // namespace

bool FlashHeadDimSupported(int head_dim) {
  return head_dim == 16 || head_dim == 64 || head_dim == 128;
}

// Both prefill kernels take 128-row tiles: 8 warps x 16 rows here, 2 warpgroups x 64 rows in
// flash_prefill_sm90.cu.
int FlashPrefillRows(int /*head_dim*/) { return 16 * kPrefillWarps; }

void LaunchFlashPrefill(const FlashParams& p, DType dtype, cudaStream_t stream,
                        FlashPrefillImpl impl) {
  // kAuto takes the Hopper kernel with the TMA producer at d = 64 and 128: at d = 128 207 / 385 /
  // 476 vs 148 / 202 / 227 TFLOP/s with cp.async at 1k / 4k / 16k over adjacent blocks, at d = 64
  // 262 vs 168 for the portable kernel at 4k (H100, 2026-12-07; the cp.async version alone was
  // slower than the portable kernel at d = 64). Every flash and window [gpu] case passed with it
  // as the default at d = 128 (caches NaN-poisoned past each chunk's context). The ping-pong
  // schedule measured within 3 % of the overlap one. Shapes the TMA cannot serve
  // (block_size % 8 != 0) fall back to the cp.async producer inside LaunchFlashPrefillSm90.
  const bool auto_sm90 = impl == FlashPrefillImpl::kAuto;
  const bool ping_pong = impl == FlashPrefillImpl::kSm90TmaPingPong;
  const bool tma = impl == FlashPrefillImpl::kSm90Tma || ping_pong || auto_sm90;
  const bool sm90 = impl == FlashPrefillImpl::kSm90 || tma;
  if (sm90 && FlashPrefillSm90Supported(p.head_dim)) {
    LaunchFlashPrefillSm90(p, dtype, stream, tma ? Sm90Producer::kTma : Sm90Producer::kCpAsync,
                           ping_pong ? Sm90Schedule::kPingPong : Sm90Schedule::kOverlap);
    return;
  }
  Dispatch<false>(p, dtype, stream);
}

void LaunchFlashDecode(const FlashParams& p, DType dtype, cudaStream_t stream) {
  Dispatch<true>(p, dtype, stream);
}

int FlashDecodeCtasPerSm(int head_dim) {
  int ctas = 0;
  switch (head_dim) {
    case 16:
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(
          &ctas, FlashKernel<__nv_bfloat16, 16, kDecodeWarps, true>, 32 * kDecodeWarps,
          FlashShape<16, kDecodeWarps, true>::SmemBytes<__nv_bfloat16>());
      break;
    case 64:
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(
          &ctas, FlashKernel<__nv_bfloat16, 64, kDecodeWarps, true>, 32 * kDecodeWarps,
          FlashShape<64, kDecodeWarps, true>::SmemBytes<__nv_bfloat16>());
      break;
    default:
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(
          &ctas, FlashKernel<__nv_bfloat16, 128, kDecodeWarps, true>, 32 * kDecodeWarps,
          FlashShape<128, kDecodeWarps, true>::SmemBytes<__nv_bfloat16>());
      break;
  }
  return ctas > 0 ? ctas : 1;
}

}  // namespace junction::cuda
