// Device helpers of the Gated DeltaNet kernels (include from .cu files only): cp.async, ldmatrix
// fragment loads of bf16 tiles kept row-major in shared memory with rows padded by 8 elements
// (16 bytes: ldmatrix rows land in distinct banks), mma.sync.m16n8k16 (bf16 in, fp32 acc), and the
// progress counters between the prefill's overlapping passes.
// Fragment layouts (PTX ISA, m16n8k16): C rows lane/4 and lane/4 + 8, columns 2 (lane % 4) + {0,1}.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "backends/cuda/kernels/mma_sm80.cuh"

namespace junction::cuda::gdn {

using ptx::CpAsync16;
using ptx::CpAsyncCommit;
using ptx::CpAsyncWait;
using ptx::Ldmatrix4;
using ptx::Ldmatrix4Trans;
using ptx::MbarArrive;
using ptx::MbarArriveOnCpAsync;
using ptx::MbarInit;
using ptx::MbarWait;
using ptx::Mma;
using ptx::PackBf16;
using ptx::SmemAddr;

__device__ __forceinline__ float2 UnpackBf16(uint32_t bits) {
  __nv_bfloat162 v = *reinterpret_cast<__nv_bfloat162*>(&bits);
  return __bfloat1622float2(v);
}

// A 16x16 fragment of a row-major [m][k] tile: rows m0.., columns k0...
__device__ __forceinline__ void LoadA(uint32_t (&a)[4], const __nv_bfloat16* tile, int ld, int m0,
                                      int k0) {
  const int lane = threadIdx.x % 32;
  Ldmatrix4(a, tile + (m0 + (lane & 15)) * ld + k0 + ((lane >> 4) << 3));
}
// A 16x16 fragment of A = T^T where the tile T is row-major [k][m].
__device__ __forceinline__ void LoadATrans(uint32_t (&a)[4], const __nv_bfloat16* tile, int ld,
                                           int m0, int k0) {
  const int lane = threadIdx.x % 32, j = lane >> 3;
  Ldmatrix4Trans(a, tile + (k0 + (lane & 7) + ((j >> 1) << 3)) * ld + m0 + ((j & 1) << 3));
}
// B fragments of two n-tiles (n0, n0 + 8) x 16 k from a row-major [n][k] tile:
// b[0], b[1] for n-tile n0, b[2], b[3] for n0 + 8.
__device__ __forceinline__ void LoadBNk(uint32_t (&b)[4], const __nv_bfloat16* tile, int ld,
                                        int n0, int k0) {
  const int lane = threadIdx.x % 32, j = lane >> 3;
  Ldmatrix4(b, tile + (n0 + (lane & 7) + ((j >> 1) << 3)) * ld + k0 + ((j & 1) << 3));
}
// The same from a row-major [k][n] tile.
__device__ __forceinline__ void LoadBKn(uint32_t (&b)[4], const __nv_bfloat16* tile, int ld,
                                        int k0, int n0) {
  const int lane = threadIdx.x % 32, j = lane >> 3;
  Ldmatrix4Trans(b, tile + (k0 + (lane & 7) + ((j & 1) << 3)) * ld + n0 + ((j >> 1) << 3));
}

// Copies rows [0, 64) x COLS of a bf16 matrix (row r at src + r * stride) into a padded tile;
// rows >= valid_rows become zeros. Threads [0, kThreads) take part, `thread` being this one's
// index among them; each issues the same fixed number of copies (no loop tests or divisions).
template <int COLS, int kThreads>
__device__ __forceinline__ void LoadRows(__nv_bfloat16* tile, const __nv_bfloat16* src,
                                         int64_t stride, int valid_rows, int thread = threadIdx.x) {
  constexpr int kPieces = COLS / 8;
  static_assert(64 * kPieces % kThreads == 0 && kThreads % kPieces == 0);
  constexpr int kRowStep = kThreads / kPieces;
  const int r0 = thread / kPieces, c = thread % kPieces;
  const uint32_t dst = SmemAddr(tile + r0 * (COLS + 8) + c * 8);
  const __nv_bfloat16* from = src + r0 * stride + c * 8;
  const int64_t step = kRowStep * stride;
#pragma unroll
  for (int j = 0; j < 64 * kPieces / kThreads; ++j, from += step) {
    const bool valid = r0 + j * kRowStep < valid_rows;
    CpAsync16(dst + 2 * j * kRowStep * (COLS + 8), valid ? from : src, valid);
  }
}

// Progress counters between CTAs of overlapping kernels (or of one kernel): a producer adds 1
// once its writes are done (release, GPU scope: whatever its CTA wrote before a barrier that
// preceded the call is visible to a consumer that saw the count); a consumer thread waits for a
// count (acquire) and then a barrier passes that on to its CTA. A consumer may only wait on
// producers that are already running or certain to be scheduled, never on later CTAs.
__device__ __forceinline__ void SignalProgress(int32_t* counter) {
  asm volatile("red.release.gpu.global.add.s32 [%0], 1;\n" ::"l"(counter) : "memory");
}
__device__ __forceinline__ void WaitProgress(const int32_t* counter, int32_t target) {
  for (;;) {
    int32_t seen;
    asm volatile("ld.acquire.gpu.global.s32 %0, [%1];\n" : "=r"(seen) : "l"(counter) : "memory");
    if (seen >= target) return;
    __nanosleep(100);
  }
}

__device__ __forceinline__ float Silu(float x) { return x / (1.0f + __expf(-x)); }

}  // namespace junction::cuda::gdn
