// Flash prefill for Hopper (sm_90a): the same work items and semantics as the mma.sync prefill
// kernel of flash_attention.h (varlen causal over paged KV, GQA row packing, windows + sinks,
// float32 softmax statistics, 128-row tiles), computed with warpgroup MMA (wgmma). One CTA per
// work item: a producer warpgroup gathers K/V tiles of 128 keys from the paged cache with
// cp.async into a shared-memory ring (completion on mbarriers), and two consumer warpgroups of
// 64 query rows each run Q.K^T and P.V on the tensor cores with the softmax in registers.
#pragma once

#include <cuda_runtime.h>

#include "backends/cuda/kernels/flash_attention.h"

namespace junction::cuda {

// True when the current device is compute capability 9.x (the binary carries sm_90a code) and
// head_dim has a kernel (64 or 128). Cached per device.
bool FlashPrefillSm90Supported(int head_dim);

// Enqueues the Hopper prefill kernel over p.items (prefill-mode items of FlashPrefillRows rows).
// Call only when FlashPrefillSm90Supported(p.head_dim). dtype: kBF16 or kF16.
void LaunchFlashPrefillSm90(const FlashParams& p, DType dtype, cudaStream_t stream);

}  // namespace junction::cuda
