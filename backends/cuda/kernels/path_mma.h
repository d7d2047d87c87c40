// Device helpers of the PaTH kernels (included by path_*.cu only): cp.async, ldmatrix,
// mma.sync.m16n8k16 bf16 with fp32 accumulate, and the XOR swizzle of [rows][D] bf16 tiles.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

namespace junction::cuda::path {

using Bf16 = __nv_bfloat16;

__device__ __forceinline__ uint32_t SmemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte asynchronous copy; an invalid source writes zeros.
__device__ __forceinline__ void CpAsync16(void* dst, const void* src, bool valid) {
  const int src_size = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(SmemAddr(dst)), "l"(src),
               "r"(src_size));
}
__device__ __forceinline__ void CpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void CpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void Ldmatrix4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(SmemAddr(p)));
}
__device__ __forceinline__ void Ldmatrix4Trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(SmemAddr(p)));
}

__device__ __forceinline__ void Mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                    uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t Pack(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

// Element offset of 16-byte chunk `chunk` of row `row` in a [rows][D] swizzled tile.
template <int D>
__device__ __forceinline__ int Swizzle(int row, int chunk) {
  constexpr int kChunks = D / 8;
  constexpr int kMask = (kChunks < 8 ? kChunks : 8) - 1;
  return row * D + ((chunk ^ (row & kMask)) << 3);
}

// A fragments (k-steps of 16 columns) of a warp's 16 x (8 * N) accumulator tile, times `sign`.
template <int N>
__device__ __forceinline__ void PackA(uint32_t (&a)[N / 2][4], const float (&c)[N][4],
                                      float sign) {
#pragma unroll
  for (int k = 0; k < N / 2; ++k) {
    a[k][0] = Pack(sign * c[2 * k][0], sign * c[2 * k][1]);
    a[k][1] = Pack(sign * c[2 * k][2], sign * c[2 * k][3]);
    a[k][2] = Pack(sign * c[2 * k + 1][0], sign * c[2 * k + 1][1]);
    a[k][3] = Pack(sign * c[2 * k + 1][2], sign * c[2 * k + 1][3]);
  }
}

// c[16 x 64] += a[16 x D] . tile[64 rows][D]^T (tile rows are the n index: keys, W rows).
template <int D>
__device__ __forceinline__ void MmaRowsT(float (&c)[8][4], const uint32_t (&a)[D / 16][4],
                                         const Bf16* tile, int lane) {
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk)
#pragma unroll
    for (int np = 0; np < 4; ++np) {
      uint32_t b[4];
      Ldmatrix4(b, tile + Swizzle<D>(np * 16 + (lane & 7) + ((lane >> 4) << 3),
                                     kk * 2 + ((lane >> 3) & 1)));
      Mma(c[2 * np], a[kk], b[0], b[1]);
      Mma(c[2 * np + 1], a[kk], b[2], b[3]);
    }
}

// c[16 x D] += a[16 x 64] . tile[64 rows][D] (tile rows are the k index: values, W2 rows).
template <int D>
__device__ __forceinline__ void MmaRows(float (&c)[D / 8][4], const uint32_t (&a)[4][4],
                                        const Bf16* tile, int lane) {
#pragma unroll
  for (int kc = 0; kc < 4; ++kc)
#pragma unroll
    for (int dp = 0; dp < D / 16; ++dp) {
      uint32_t b[4];
      Ldmatrix4Trans(b, tile + Swizzle<D>(kc * 16 + (lane & 7) + (((lane >> 3) & 1) << 3),
                                          dp * 2 + (lane >> 4)));
      Mma(c[2 * dp], a[kc], b[0], b[1]);
      Mma(c[2 * dp + 1], a[kc], b[2], b[3]);
    }
}

}  // namespace junction::cuda::path
