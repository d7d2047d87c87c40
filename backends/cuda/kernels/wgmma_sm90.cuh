// Hopper (sm_90a) building blocks as thin PTX wrappers: warpgroup MMA (wgmma.mma_async) with
// shared-memory matrix descriptors, bulk-copy completion on mbarriers (the plain mbarrier helpers
// come from mma_sm80.cuh), TMA, register reallocation and the async-proxy fence. Everything here
// exists only when JUNCTION_SM90A is defined (device pass for sm_90a); callers guard their use with
// the same macro.
//
// Shared-memory tiles use the 128-byte swizzle: a tile of R rows x C 16-bit columns is stored as
// C/64 column blocks of [R][64] elements, each row 128 bytes, and 16-byte chunk c of row r sits at
// chunk c ^ (r % 8). The hardware applies this XOR to address bits [4:6] ^ [7:9], so every tile
// starts at a 1024-byte boundary. Such a tile is the canonical "K-major" operand when its columns
// are the reduction dimension (Q, K for Q.K^T) and the canonical "MN-major" operand when its rows
// are (V for P.V).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "backends/cuda/kernels/mma_sm80.cuh"

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define JUNCTION_SM90A 1
#endif

namespace junction::cuda::sm90 {

// Byte offset of 16-byte chunk `chunk` of row `row` in a swizzled [rows][cols] tile.
__host__ __device__ constexpr uint32_t SwizzledOffset(int rows, int row, int chunk) {
  return static_cast<uint32_t>((chunk / 8) * rows * 128 + row * 128 +
                               (((chunk % 8) ^ (row % 8)) << 4));
}

#ifdef JUNCTION_SM90A

// Matrix descriptor of a 128-byte-swizzled operand at shared address `addr`. stride_bytes: between
// 8-row groups (1024 for these tiles); leading_bytes: between 64-column blocks along M/N of an
// MN-major operand (ignored by the hardware for K-major swizzled operands).
__device__ __forceinline__ uint64_t SmemDesc(uint32_t addr, uint32_t leading_bytes,
                                             uint32_t stride_bytes) {
  return static_cast<uint64_t>((addr & 0x3ffff) >> 4) |
         (static_cast<uint64_t>(leading_bytes >> 4) << 16) |
         (static_cast<uint64_t>(stride_bytes >> 4) << 32) | (uint64_t{1} << 62);
}

// Orders this thread's register and shared-memory accesses before the warpgroup's next wgmma.
__device__ __forceinline__ void WgmmaFence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void WgmmaCommit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
// Waits until at most N committed wgmma groups of this warpgroup are still running.
template <int N>
__device__ __forceinline__ void WgmmaWait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Pins an accumulator array in place across a wgmma issue or wait: without it the compiler may
// move ordinary reads or writes of the registers across the asynchronous operation.
template <int N>
__device__ __forceinline__ void FenceRegisters(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

#define JUNCTION_WGMMA_F8(i)                                                                  \
  "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), \
      "+f"(d[i + 6]), "+f"(d[i + 7])
#define JUNCTION_WGMMA_OUT32 \
  JUNCTION_WGMMA_F8(0), JUNCTION_WGMMA_F8(8), JUNCTION_WGMMA_F8(16), JUNCTION_WGMMA_F8(24)
#define JUNCTION_WGMMA_OUT64                                                                 \
  JUNCTION_WGMMA_OUT32, JUNCTION_WGMMA_F8(32), JUNCTION_WGMMA_F8(40), JUNCTION_WGMMA_F8(48), \
      JUNCTION_WGMMA_F8(56)
#define JUNCTION_WGMMA_D32                                                  \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define JUNCTION_WGMMA_D64                                                           \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "          \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"

// One wgmma.m64nNk16 with float32 accumulators d (the m64nN fragment: warp w of the warpgroup
// holds rows 16w.., and d[4j + 2h + e] is row lane/4 + 8h, column 8j + 2(lane%4) + e).
//   SS: A (64x16) and B (16xN) from shared memory, both K-major.
//   RS: A from registers (the mma.sync m16n8k16 A fragment of each warp's 16 rows), B MN-major.
// accumulate = false: d = A.B (d's old values ignored).
template <typename T, int N>
struct Wgmma;

// The operand numbers after the R accumulators: SS takes a, b, accumulate; RS a[4], b, accumulate.
#define JUNCTION_WGMMA_DEFINE(T, PTX, N, R, D, OUT, SS_PRED, SS_AB, RS_PRED, RS_AB)               \
  template <>                                                                                     \
  struct Wgmma<T, N> {                                                                            \
    static __device__ __forceinline__ void SS(float (&d)[R], uint64_t a, uint64_t b,              \
                                              bool accumulate) {                                  \
      asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " SS_PRED                                    \
                   ", 0;\n"                                                                       \
                   "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." PTX "." PTX " " D ", " SS_AB \
                   ", p, 1, 1, 0, 0;\n}\n"                                                        \
                   : OUT                                                                          \
                   : "l"(a), "l"(b), "r"(static_cast<int>(accumulate)));                          \
    }                                                                                             \
    static __device__ __forceinline__ void RS(float (&d)[R], const uint32_t (&a)[4], uint64_t b,  \
                                              bool accumulate) {                                  \
      asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " RS_PRED                                    \
                   ", 0;\n"                                                                       \
                   "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." PTX "." PTX " " D ", " RS_AB \
                   ", p, 1, 1, 1;\n}\n"                                                           \
                   : OUT                                                                          \
                   : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b),                          \
                     "r"(static_cast<int>(accumulate)));                                          \
    }                                                                                             \
  };
#define JUNCTION_WGMMA_DEFINE_N64(T, PTX)                                                \
  JUNCTION_WGMMA_DEFINE(T, PTX, 64, 32, JUNCTION_WGMMA_D32, JUNCTION_WGMMA_OUT32, "%34", \
                        "%32, %33", "%37", "{%32, %33, %34, %35}, %36")
#define JUNCTION_WGMMA_DEFINE_N128(T, PTX)                                                \
  JUNCTION_WGMMA_DEFINE(T, PTX, 128, 64, JUNCTION_WGMMA_D64, JUNCTION_WGMMA_OUT64, "%66", \
                        "%64, %65", "%69", "{%64, %65, %66, %67}, %68")
JUNCTION_WGMMA_DEFINE_N64(__nv_bfloat16, "bf16")
JUNCTION_WGMMA_DEFINE_N64(__half, "f16")
JUNCTION_WGMMA_DEFINE_N128(__nv_bfloat16, "bf16")
JUNCTION_WGMMA_DEFINE_N128(__half, "f16")

using ptx::MbarArrive;
using ptx::MbarArriveOnCpAsync;
using ptx::MbarInit;
using ptx::MbarWait;

// Arrives and adds `bytes` to the transaction count of the current phase: the phase completes
// only once bulk copies completing on this barrier have delivered them. Arrive before issuing
// the copies, so their bytes are expected by the time they land.
__device__ __forceinline__ void MbarArriveExpectTx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes)
               : "memory");
}
// Adds `bytes` to the transaction count of the current phase without arriving: for a thread that
// issues several copies and arrives once after them (its pending arrival keeps the phase open).
__device__ __forceinline__ void MbarExpectTx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(bytes)
               : "memory");
}
// Bulk tensor copy (TMA) of the box at coordinates (c0, c1, c2) of a 3-D tensor map into shared
// memory at `dst`, in the map's swizzle, completing its bytes on mbarrier `bar`. `map` is the
// address of a __grid_constant__ kernel parameter.
__device__ __forceinline__ void TmaLoad3d(uint32_t dst, const void* map, int c0, int c1, int c2,
                                          uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%2, %3, %4}], [%5];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
      : "memory");
}
// Makes shared memory written through the generic proxy (st.shared, cp.async) visible to the
// async proxy (wgmma operand reads).
__device__ __forceinline__ void FenceProxyAsync() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// Register reallocation between warpgroups (needs a register cap at kernel entry).
template <int N>
__device__ __forceinline__ void RegAlloc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
}
template <int N>
__device__ __forceinline__ void RegDealloc() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
}

#endif  // JUNCTION_SM90A

}  // namespace junction::cuda::sm90
