#include "backends/cuda/gemm.h"

#include <cstdint>
#include <map>
#include <mutex>
#include <tuple>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/skinny_gemm.h"
#include "engine/common/status_macros.h"

namespace junction::cuda {
namespace {

cudaDataType_t CudaType(DType t) {
  switch (t) {
    case DType::kBF16:
      return CUDA_R_16BF;
    case DType::kF16:
      return CUDA_R_16F;
    case DType::kF32:
      return CUDA_R_32F;
  }
  return CUDA_R_32F;
}

// Owns the cuBLASLt descriptors of one problem shape and its chosen algorithm.
struct GemmPlan {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo;
};

using ShapeKey = std::tuple<int64_t, int64_t, int64_t, int, int>;

absl::Status BuildPlan(const CudaContext& context, const GemmArgs& g, GemmPlan& plan) {
  // Row-major y[m,n] is column-major y^T[n,m] = w[n,k] . x^T: A = w (transposed), B = x.
  RETURN_IF_CUDA_ERROR(cublasLtMatmulDescCreate(&plan.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t transa = CUBLAS_OP_T, transb = CUBLAS_OP_N;
  RETURN_IF_CUDA_ERROR(cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_TRANSA, &transa,
                                                      sizeof(transa)));
  RETURN_IF_CUDA_ERROR(cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_TRANSB, &transb,
                                                      sizeof(transb)));
  const cudaDataType_t in = CudaType(g.in_type), out = CudaType(g.out_type);
  RETURN_IF_CUDA_ERROR(cublasLtMatrixLayoutCreate(&plan.a, in, g.k, g.n, g.k));
  RETURN_IF_CUDA_ERROR(cublasLtMatrixLayoutCreate(&plan.b, in, g.k, g.m, g.k));
  RETURN_IF_CUDA_ERROR(cublasLtMatrixLayoutCreate(&plan.d, out, g.n, g.m, g.n));
  cublasLtMatmulPreference_t pref = nullptr;
  RETURN_IF_CUDA_ERROR(cublasLtMatmulPreferenceCreate(&pref));
  const size_t workspace = context.workspace_bytes();
  RETURN_IF_CUDA_ERROR(cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace, sizeof(workspace)));
  cublasLtMatmulHeuristicResult_t result;
  int found = 0;
  const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(
      context.cublas(), plan.op, plan.a, plan.b, plan.d, plan.d, pref, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  RETURN_IF_CUDA_ERROR(status);
  if (found == 0)
    return absl::InternalError(
        absl::StrCat("cuBLASLt has no algorithm for m=", g.m, " n=", g.n, " k=", g.k));
  plan.algo = result.algo;
  return absl::OkStatus();
}

}  // namespace

absl::Status Gemm(const CudaContext& context, const GemmArgs& g) {
  if (g.in_type == DType::kF32)
    return absl::InvalidArgumentError("Gemm inputs must be bf16 or fp16");
  if (g.m == 0 || g.n == 0) return absl::OkStatus();
  // Decode's few-row products go to the bandwidth kernel (skinny_gemm.h says why).
  const SkinnyGemmParams skinny{g.x, g.w, g.y, static_cast<int>(g.m), static_cast<int>(g.n),
                                static_cast<int>(g.k), g.alpha};
  if (g.allow_skinny && g.m <= kSkinnyGemmMaxRows && g.n <= INT32_MAX && g.k <= INT32_MAX &&
      SkinnyGemmSupported(skinny, g.in_type)) {
    LaunchSkinnyGemm(skinny, g.in_type, g.out_type, context.stream());
    return absl::OkStatus();
  }
  static std::mutex mutex;
  static std::map<ShapeKey, GemmPlan> plans;
  const ShapeKey key{g.m, g.n, g.k, static_cast<int>(g.in_type), static_cast<int>(g.out_type)};
  GemmPlan* plan = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = plans.find(key);
    if (it == plans.end()) {
      GemmPlan fresh;
      RETURN_IF_ERROR(BuildPlan(context, g, fresh));
      it = plans.emplace(key, fresh).first;
    }
    plan = &it->second;
  }
  const float beta = 0.0f;
  RETURN_IF_CUDA_ERROR(cublasLtMatmul(
      context.cublas(), plan->op, &g.alpha, g.w, plan->a, g.x, plan->b, &beta, g.y, plan->d, g.y,
      plan->d, &plan->algo, context.workspace(), context.workspace_bytes(), context.stream()));
  return absl::OkStatus();
}

}  // namespace junction::cuda
