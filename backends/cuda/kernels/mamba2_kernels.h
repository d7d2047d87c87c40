// Mamba2 (SSD) kernels (DESIGN.md §4), bf16 activations, float32 states and arithmetic:
//   conv:  xBC <- silu(causal depthwise conv(in_proj xBC part) + bias), conv window in place;
//   scan:  chunked SSD over the prefill chunks of a step (64-token chunks, intra-chunk products
//          on tensor cores with mma.sync, the [P, N] state carried across chunks in fp32
//          registers of one CTA per (request, head, P block));
//   decode: one recurrence step for every single-token request of a step, in one launch,
//          reading and writing the fp32 state once (bandwidth-bound);
//   gated norm: y <- rmsnorm(y * silu(z)) * w over all of I or per group of I/G.
// Every launcher enqueues on `stream`, takes raw device pointers in a params struct and never
// synchronizes. Work lists (items) live in device memory, built by the layer's plan.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

namespace junction::cuda {

// One request's tokens in this step, for the scan / decode kernels.
struct Mamba2ScanItem {
  int32_t first_token = 0;  // row of the step's activations
  int32_t num_tokens = 0;   // >= 1; decode items have exactly 1
  int32_t slot = 0;         // state slot
  int32_t fresh = 0;        // 1: start from a zero state (the slot is not read)
  int32_t chunk_base = 0;   // parallel scan: index of the item's first chunk (BuildMamba2Chunks)
};

// Tokens per SSD chunk.
inline constexpr int kMamba2Chunk = 64;

// One 64-token chunk of a scan item, for the parallel scan.
struct Mamba2ChunkItem {
  int32_t item = 0;    // index into the scan items
  int32_t chunk = 0;   // chunk of that item: tokens [64 * chunk, +64)
  int32_t global = 0;  // index into the chunk workspaces
};

// Numbers the chunks of `items` (sets their chunk_base) and lists them.
inline std::vector<Mamba2ChunkItem> BuildMamba2Chunks(std::vector<Mamba2ScanItem>& items) {
  std::vector<Mamba2ChunkItem> chunks;
  int32_t base = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    items[i].chunk_base = base;
    const int32_t n = (items[i].num_tokens + kMamba2Chunk - 1) / kMamba2Chunk;
    for (int32_t c = 0; c < n; ++c) chunks.push_back({static_cast<int32_t>(i), c, base + c});
    base += n;
  }
  return chunks;
}

// One segment of one request's tokens for the conv kernel. The thread of a channel that owns
// segment 0 of a request also rewrites that request's conv window.
struct Mamba2ConvItem {
  int32_t first_token = 0;    // the request's first row in the step
  int32_t num_tokens = 0;     // the request's tokens this step
  int32_t segment_begin = 0;  // relative to first_token
  int32_t segment_len = 0;
  int32_t slot = 0;
  int32_t fresh = 0;  // 1: the window before the first token is zero (not read)
};

// Tokens per conv segment (one thread walks a channel through a segment).
inline constexpr int kMamba2ConvSegment = 64;
// Longest conv kernel supported.
inline constexpr int kMamba2MaxConvKernel = 8;

struct Mamba2ConvParams {
  const void* proj = nullptr;  // [T, proj_stride] bf16: in_proj output; xBC at column in_offset
  int64_t proj_stride = 0;
  int64_t in_offset = 0;
  const float* in_bias = nullptr;  // [conv_dim] in_proj bias of the xBC part, or null
  const float* weight = nullptr;   // [conv_dim, K]
  const float* bias = nullptr;     // [conv_dim] or null
  float* conv_state = nullptr;     // [num_slots, K-1, conv_dim]: raw inputs, oldest first
  void* out = nullptr;             // [T, conv_dim] bf16
  const Mamba2ConvItem* items = nullptr;
  int num_items = 0;
  int conv_dim = 0;
  int kernel = 4;
};
void LaunchMamba2Conv(const Mamba2ConvParams& p, cudaStream_t stream);

struct Mamba2SsdParams {
  const void* xbc = nullptr;  // [T, xbc_stride] bf16: x [nh * P] | B [G * N] | C [G * N]
  int64_t xbc_stride = 0;
  const float* dt = nullptr;  // [T, dt_stride] raw dt projection (before bias / softplus)
  int64_t dt_stride = 0;
  const float* dt_bias = nullptr;  // [nh] (dt_bias plus any in_proj bias of the dt part)
  const float* a = nullptr;        // [nh] A = -exp(A_log)
  const float* d = nullptr;        // [nh]
  float dt_min = 0.0f;             // dt = clamp(softplus(dt + dt_bias), dt_min, dt_max)
  float dt_max = 0.0f;
  float* ssm_state = nullptr;  // [num_slots, nh, P, N] float32, updated in place
  float* y = nullptr;          // [T, nh * P] float32: S C + D x
  const Mamba2ScanItem* items = nullptr;
  int num_items = 0;
  int num_heads = 0;
  int head_dim = 0;    // P
  int state_size = 0;  // N
  int num_groups = 0;  // G
  // Parallel scan only: the chunk list and its workspaces (Mamba2ChunkWorkspaceBytes).
  const Mamba2ChunkItem* chunks = nullptr;
  int num_chunks = 0;
  float* chunk_states = nullptr;  // [num_chunks, nh, P, N] each chunk's own state contribution
  void* chunk_inputs = nullptr;   // [num_chunks, nh, P, N] bf16: the state entering each chunk
  float* chunk_decay = nullptr;   // [num_chunks, nh] exp(sum of dt A over the chunk)
};

// Workspace bytes of the parallel scan for `num_chunks` chunks (3 arrays, each 256-aligned).
inline size_t Mamba2ChunkWorkspaceBytes(int num_chunks, int num_heads, int head_dim,
                                        int state_size) {
  const size_t states = size_t(num_chunks) * num_heads * head_dim * state_size;
  auto align = [](size_t n) { return (n + 255) / 256 * 256; };
  return align(states * 4) + align(states * 2) + align(size_t(num_chunks) * num_heads * 4);
}

// Points p.chunk_states / chunk_inputs / chunk_decay into `workspace` (at least
// Mamba2ChunkWorkspaceBytes for p.num_chunks and p's shape).
inline void SetMamba2ChunkWorkspace(Mamba2SsdParams& p, void* workspace) {
  const size_t states = size_t(p.num_chunks) * p.num_heads * p.head_dim * p.state_size;
  auto align = [](size_t n) { return (n + 255) / 256 * 256; };
  char* base = static_cast<char*>(workspace);
  p.chunk_states = reinterpret_cast<float*>(base);
  p.chunk_inputs = base + align(states * 4);
  p.chunk_decay = reinterpret_cast<float*>(base + align(states * 4) + align(states * 2));
}

// Empty when the kernels support the shape, else why not.
const char* Mamba2SsdUnsupported(int head_dim, int state_size, int num_groups, int conv_kernel);
// Chunked scan over p.items (any token counts; meant for prefill chunks). num_sms picks the
// P block (more CTAs when there are few requests and heads).
void LaunchMamba2ChunkScan(const Mamba2SsdParams& p, int num_sms, cudaStream_t stream);
// The same result in three launches that parallelize over chunks: each chunk's own state
// contribution (tensor cores), the state passed across chunks (fp32, elementwise, which also
// writes the final state to the slot), and each chunk's outputs from its incoming state (tensor
// cores). Needs p.chunks (BuildMamba2Chunks over p.items) and the workspaces.
void LaunchMamba2ParallelScan(const Mamba2SsdParams& p, cudaStream_t stream);
// One recurrence step per item (each exactly one token).
void LaunchMamba2DecodeStep(const Mamba2SsdParams& p, cudaStream_t stream);

struct Mamba2GatedNormParams {
  const float* y = nullptr;  // [T, inner]
  const void* z = nullptr;   // [T, z_stride] bf16 (columns [0, inner))
  int64_t z_stride = 0;
  const float* z_bias = nullptr;  // [inner] or null (in_proj bias of the z part)
  const float* weight = nullptr;  // [inner]
  void* out = nullptr;            // [T, inner] bf16
  int num_tokens = 0;
  int inner = 0;
  int group_width = 0;  // inner (norm over I) or inner / G (per group)
  float eps = 1e-5f;
};
void LaunchMamba2GatedNorm(const Mamba2GatedNormParams& p, cudaStream_t stream);

}  // namespace junction::cuda
