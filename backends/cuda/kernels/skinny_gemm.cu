#include "backends/cuda/kernels/skinny_gemm.h"

#include "backends/cuda/kernels/cuda_types.cuh"
#include "backends/cuda/kernels/launch.cuh"

namespace junction::cuda {
namespace {

constexpr int kWarps = 8;
// 16-byte weight loads issued per lane before the first is used.
constexpr int kUnroll = 4;

template <typename T>
__device__ __forceinline__ float2 Pair(uint32_t bits);
template <>
__device__ __forceinline__ float2 Pair<__nv_bfloat16>(uint32_t bits) {
  return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&bits));
}
template <>
__device__ __forceinline__ float2 Pair<__half>(uint32_t bits) {
  return __half22float2(*reinterpret_cast<const __half2*>(&bits));
}

// acc += the dot product of 8 packed elements of a and b.
template <typename T>
__device__ __forceinline__ float Dot8(const uint4& a, const uint4& b, float acc) {
  const uint32_t av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const float2 fa = Pair<T>(av[j]), fb = Pair<T>(bv[j]);
    acc = fmaf(fa.x, fb.x, acc);
    acc = fmaf(fa.y, fb.y, acc);
  }
  return acc;
}

template <typename Out>
__device__ __forceinline__ Out Store(float v);
template <>
__device__ __forceinline__ float Store<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 Store<__nv_bfloat16>(float v) {
  return __float2bfloat16(v);
}
template <>
__device__ __forceinline__ __half Store<__half>(float v) {
  return __float2half(v);
}

// One warp per row of w (one output column); M rows of x.
template <typename T, typename Out, int M>
__global__ void __launch_bounds__(kWarps * 32) SkinnyGemmKernel(SkinnyGemmParams p) {
  DependentKernelPrologue();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row = blockIdx.x * kWarps + warp;
  if (row >= p.n) return;
  const int k8 = p.k / 8;  // 16-byte vectors per row
  const uint4* w = reinterpret_cast<const uint4*>(p.w) + static_cast<int64_t>(row) * k8;
  const uint4* x = reinterpret_cast<const uint4*>(p.x);
  float acc[M];
#pragma unroll
  for (int r = 0; r < M; ++r) acc[r] = 0.0f;
  int i = lane;
  for (; i + 32 * (kUnroll - 1) < k8; i += 32 * kUnroll) {
    uint4 wv[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) wv[u] = __ldg(w + i + 32 * u);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
#pragma unroll
      for (int r = 0; r < M; ++r) acc[r] = Dot8<T>(wv[u], x[r * k8 + i + 32 * u], acc[r]);
  }
  for (; i < k8; i += 32) {
    const uint4 wv = __ldg(w + i);
#pragma unroll
    for (int r = 0; r < M; ++r) acc[r] = Dot8<T>(wv, x[r * k8 + i], acc[r]);
  }
#pragma unroll
  for (int r = 0; r < M; ++r) acc[r] = WarpSum(acc[r]);
  if (lane == 0) {
    Out* y = static_cast<Out*>(p.y);
#pragma unroll
    for (int r = 0; r < M; ++r) y[static_cast<int64_t>(r) * p.n + row] = Store<Out>(p.alpha * acc[r]);
  }
}

template <typename T, typename Out>
void Launch(const SkinnyGemmParams& p, cudaStream_t stream) {
  const int blocks = (p.n + kWarps - 1) / kWarps;
  if (p.m == 1) {
    LaunchKernel(SkinnyGemmKernel<T, Out, 1>, blocks, kWarps * 32, 0, stream, p);
  } else {
    LaunchKernel(SkinnyGemmKernel<T, Out, 2>, blocks, kWarps * 32, 0, stream, p);
  }
}

}  // namespace

bool SkinnyGemmSupported(const SkinnyGemmParams& p, DType in_type) {
  static_assert(kSkinnyGemmMaxRows == 2, "Launch dispatches m = 1, 2");
  const auto aligned = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; };
  return in_type != DType::kF32 && p.m >= 1 && p.m <= kSkinnyGemmMaxRows && p.n >= 1 &&
         p.k >= 8 && p.k % 8 == 0 && aligned(p.x) && aligned(p.w);
}

void LaunchSkinnyGemm(const SkinnyGemmParams& p, DType in_type, DType out_type,
                      cudaStream_t stream) {
  if (out_type == DType::kF32) {
    JUNCTION_DISPATCH_HALF(in_type, Launch<T, float>(p, stream));
  } else {
    JUNCTION_DISPATCH_HALF(in_type, Launch<T, T>(p, stream));
  }
}

}  // namespace junction::cuda
