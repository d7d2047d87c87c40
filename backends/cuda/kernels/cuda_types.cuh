// Device-side helpers shared by the kernels: 16-bit <-> float conversion by template type, packed
// pairs, warp and block sums.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace junction::cuda {

template <typename T>
__device__ __forceinline__ float ToFloat(T v);
template <>
__device__ __forceinline__ float ToFloat(__nv_bfloat16 v) {
  return __bfloat162float(v);
}
template <>
__device__ __forceinline__ float ToFloat(__half v) {
  return __half2float(v);
}

template <typename T>
__device__ __forceinline__ T FromFloat(float v);
template <>
__device__ __forceinline__ __nv_bfloat16 FromFloat(float v) {
  return __float2bfloat16(v);
}
template <>
__device__ __forceinline__ __half FromFloat(float v) {
  return __float2half(v);
}

// Two floats rounded to a packed pair of T (lo in the low half), as tensor-core operands take them.
template <typename T>
__device__ __forceinline__ uint32_t PackPair(float lo, float hi);
template <>
__device__ __forceinline__ uint32_t PackPair<__nv_bfloat16>(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}
template <>
__device__ __forceinline__ uint32_t PackPair<__half>(float lo, float hi) {
  __half2 v = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

__device__ __forceinline__ float WarpSum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
__device__ __forceinline__ float BlockSum(float v, float* scratch /* [32] */) {
  v = WarpSum(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  const int num_warps = blockDim.x / 32;
  v = lane < num_warps ? scratch[lane] : 0.0f;
  return WarpSum(v);
}

}  // namespace junction::cuda

// Dispatches `body` with `T` bound to the 16-bit CUDA type of a DType (bf16 or fp16).
// Programmatic dependent launch (sm_90; no-ops elsewhere and when the launch did not ask for it).
// A kernel calls AllowDependentLaunch() early so that the next kernel, if launched with
// cudaLaunchAttributeProgrammaticStreamSerialization, gets its CTAs onto free SMs while this one
// runs; that kernel may then do work that needs nothing of ours (fetch its weights) and must call
// WaitForPrerequisiteGrids() before it reads anything an earlier kernel wrote: it returns once
// every earlier grid has completed and its writes are visible.
__device__ __forceinline__ void AllowDependentLaunch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::);
#endif
}
__device__ __forceinline__ void WaitForPrerequisiteGrids() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// The first statement of every kernel launched through LaunchKernel (launch.cuh).
__device__ __forceinline__ void DependentKernelPrologue() {
  AllowDependentLaunch();
  WaitForPrerequisiteGrids();
}

#define JUNCTION_DISPATCH_HALF(dtype, ...)    \
  do {                                        \
    if ((dtype) == ::junction::DType::kF16) { \
      using T = __half;                       \
      __VA_ARGS__;                            \
    } else {                                  \
      using T = __nv_bfloat16;                \
      __VA_ARGS__;                            \
    }                                         \
  } while (0)
