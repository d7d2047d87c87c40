// Flash prefill for Hopper (sm_90a): the same work items and semantics as the mma.sync prefill
// kernel of flash_attention.h (varlen causal over paged KV, GQA row packing, windows + sinks,
// float32 softmax statistics, 128-row tiles), computed with warpgroup MMA (wgmma). A persistent
// grid of one CTA per SM walks the work items: a producer warpgroup fills shared-memory rings
// with K/V tiles of 128 keys (completion on mbarriers), and two consumer warpgroups of 64 query
// rows each run Q.K^T and P.V on the tensor cores with the softmax in registers.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "backends/cuda/kernels/flash_attention.h"

namespace junction::cuda {

// How the producer warpgroup brings K/V tiles from the paged cache into shared memory.
//   kCpAsync: 128 threads gather 16-byte pieces with cp.async, each looking up its key's block.
//   kTma: the tensor memory accelerator copies boxes of 64 columns x 32 keys where the blocks
//     are adjacent in the cache, else x the largest power of two from 8 to 32 that divides
//     block_size (one thread per 32 keys, spread over the producer's four warps, looks up its
//     blocks before it waits for the tile's stage); needs
//     block_size % 8 == 0 and p.num_blocks > 0. Tiles that do not start at a multiple of that
//     box (those of a window item whose first key is not) are gathered with cp.async.
enum class Sm90Producer { kCpAsync, kTma };

// How the two consumer warpgroups order their work on each K/V tile.
//   kOverlap: Q.K^T of tile t is issued together with P.V of tile t - 1, and the softmax of tile
//     t runs while that P.V is on the tensor cores (FlashAttention-3's intra-warpgroup overlap).
//   kPingPong: kOverlap, and the two warpgroups take turns issuing their products (two named
//     barriers), so that one's softmax runs under the other's matrix products.
enum class Sm90Schedule { kOverlap, kPingPong };

// Why kTma cannot serve these params (block size, cache size or alignment, a driver without the
// tensor-map encoder), or an empty string when it can.
std::string FlashPrefillSm90TmaUnavailable(const FlashParams& p, DType dtype);

// True when the current device is compute capability 9.x (the binary carries sm_90a code) and
// head_dim has a kernel (64 or 128). Cached per device.
bool FlashPrefillSm90Supported(int head_dim);

// Enqueues the Hopper prefill kernel over p.items (prefill-mode items of FlashPrefillRows rows).
// Call only when FlashPrefillSm90Supported(p.head_dim). dtype: kBF16 or kF16. A kTma request
// that the shapes or the driver cannot serve runs kCpAsync and says so once on stderr.
void LaunchFlashPrefillSm90(const FlashParams& p, DType dtype, cudaStream_t stream,
                            Sm90Producer producer = Sm90Producer::kCpAsync,
                            Sm90Schedule schedule = Sm90Schedule::kOverlap);

}  // namespace junction::cuda
