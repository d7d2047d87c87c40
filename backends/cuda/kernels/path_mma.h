// Device helpers of the PaTH kernels (included by path_*.cu only): cp.async (16 and 4 bytes),
// ldmatrix, mma.sync.m16n8k16 bf16 with fp32 accumulate, and the XOR swizzle of [rows][D] bf16
// tiles.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "backends/cuda/kernels/mma_sm80.cuh"

namespace junction::cuda::path {

using Bf16 = __nv_bfloat16;

using ptx::CpAsync16;
using ptx::CpAsyncCommit;
using ptx::CpAsyncWait;
using ptx::Ldmatrix4;
using ptx::Ldmatrix4Trans;
using ptx::Mma;
using ptx::PackBf16;

// 4-byte asynchronous copy (through L1); an invalid source writes zero.
__device__ __forceinline__ void CpAsync4(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(ptx::SmemAddr(dst)),
               "l"(src), "r"(valid ? 4 : 0));
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
    a[k][0] = PackBf16(sign * c[2 * k][0], sign * c[2 * k][1]);
    a[k][1] = PackBf16(sign * c[2 * k][2], sign * c[2 * k][3]);
    a[k][2] = PackBf16(sign * c[2 * k + 1][0], sign * c[2 * k + 1][1]);
    a[k][3] = PackBf16(sign * c[2 * k + 1][2], sign * c[2 * k + 1][3]);
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
