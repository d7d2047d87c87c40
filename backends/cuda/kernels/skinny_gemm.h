// Products with few rows, y[m, n] = alpha * x[m, k] . w[n, k]^T for m <= kSkinnyGemmMaxRows:
// decode's linear layers. They read each weight once and do 2·m flops per weight element, so
// they are a bandwidth problem, and cuBLASLt's kernels for them stream at 1.2-2.9 TB/s depending
// on the shape (ncu, H100, 2026-12-06; the device copy rate is 3.0). This kernel gives each warp
// one row of w, read with 16-byte loads, several in flight per lane; x (a few KB) stays in L1.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/common/dtype.h"

namespace junction::cuda {

// Up to 2 rows it beat cuBLASLt on every Llama-3-8B decode shape (1.01-1.34x, H100,
// 2026-12-06, junction-bench cuda_gemm_decode); at 4 rows the down and gate_up products were
// 2-8 % slower, so from 3 rows on cuBLASLt keeps them.
inline constexpr int kSkinnyGemmMaxRows = 2;

struct SkinnyGemmParams {
  const void* x = nullptr;  // [m, k] (in type)
  const void* w = nullptr;  // [n, k] (in type)
  void* y = nullptr;        // [m, n] (out type)
  int m = 0;
  int n = 0;
  int k = 0;
  float alpha = 1.0f;
};

// Whether the kernel takes the problem: 1 <= m <= kSkinnyGemmMaxRows, k a multiple of 8 and x,
// w 16-byte aligned (so every row is), in type bf16 or fp16.
bool SkinnyGemmSupported(const SkinnyGemmParams& p, DType in_type);

// Enqueues y = alpha * x . w^T; out_type is in_type or kF32. Float32 accumulation.
void LaunchSkinnyGemm(const SkinnyGemmParams& p, DType in_type, DType out_type,
                      cudaStream_t stream);

}  // namespace junction::cuda
