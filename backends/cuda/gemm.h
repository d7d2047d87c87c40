// cuBLASLt GEMMs in the layout every linear layer uses: y[m, n] = alpha * x[m, k] . w[n, k]^T,
// all row-major. x and w are bf16 or fp16 (the same type); y is that type or float32; the
// accumulation is float32. Algorithms are picked once per shape and cached; products of at most
// kSkinnyGemmMaxRows rows (decode) run on the kernel of kernels/skinny_gemm.h instead.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "backends/cuda/cuda_context.h"
#include "engine/common/dtype.h"

namespace junction::cuda {

struct GemmArgs {
  const void* x = nullptr;  // [m, k]
  const void* w = nullptr;  // [n, k]
  void* y = nullptr;        // [m, n]
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  DType in_type = DType::kBF16;
  DType out_type = DType::kBF16;
  float alpha = 1.0f;
  bool allow_skinny = true;  // false: always cuBLASLt (benchmarks compare the two)
};

// Enqueues the product on context.stream(). Errors: unsupported types, no cuBLASLt algorithm.
absl::Status Gemm(const CudaContext& context, const GemmArgs& args);

}  // namespace junction::cuda
