// Fused dense kernels of a Llama-family layer (bf16 / fp16 activations, fp32 arithmetic).
// Every launcher enqueues one kernel on `stream`, takes raw device pointers plus a params struct,
// and never synchronizes. `dtype` names the 16-bit activation type (kBF16 or kF16).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/common/dtype.h"

namespace junction::cuda {

// out[t, :] = table[ids[t], :] * multiplier. table: [vocab, width] (dtype); out: [T, width] f32.
struct EmbeddingParams {
  const int32_t* ids = nullptr;  // [num_tokens]
  const void* table = nullptr;
  float* out = nullptr;
  int num_tokens = 0;
  int width = 0;
  float multiplier = 1.0f;
};
void LaunchEmbedding(const EmbeddingParams& p, DType dtype, cudaStream_t stream);

// Per row r: residual[r] += delta_scale * delta[r] (when delta is set), then
// out[r] = residual[r] * rsqrt(mean(residual[r]^2) + eps) * (w or 1 + w).
// Rows run over [0, num_rows); with `rows` set, row r reads delta row rows[r], reads/writes
// residual row rows[r] and writes out row r: the last add + norm of only the rows that need
// logits (the residual's other rows are left without the last delta). With a delta the listed
// rows must be distinct.
struct AddRmsNormParams {
  float* residual = nullptr;    // [*, width] float32, updated in place
  const void* delta = nullptr;  // [*, width] (dtype) or null; its rows are the residual's
  float delta_scale = 1.0f;
  const float* weight = nullptr;  // [width]
  void* out = nullptr;            // [num_rows, width] (dtype)
  const int32_t* rows = nullptr;  // optional row indices into residual
  int num_rows = 0;
  int width = 0;
  float eps = 1e-6f;
  bool plus_one = false;
};
void LaunchAddRmsNorm(const AddRmsNormParams& p, DType dtype, cudaStream_t stream);

// From the fused projection qkv[t] = [q heads | k heads | v heads] (each head_dim wide): adds
// the bias, applies per-head RMSNorm to q and k (qk_norm), rotates the first rotary_dim dims of
// q and k by RoPE at positions[t] (HF rotate_half, cos/sin scaled by attention_scaling), writes
// q to q_out [T, num_heads, head_dim] and k, v into the paged caches at slot slots[t] =
// block * block_size + offset (caches are [num_blocks * block_size, num_kv_heads, head_dim]).
// output_gate (Qwen3.5): q_proj emits per head the query and then its gate (2 * head_dim
// columns per q head, so qkv rows are (2 * num_heads + 2 * num_kv_heads) * head_dim wide); the
// gate columns are left for LaunchOutputGate.
// Window-policy tokens (backends/cpu/attention_layer.cc): exact_rope[t] != 0 rotates with
// float64 angles; sink_positions[t] >= 0 also writes q rotated at that position to q_sink_out.
struct PrepareQkvParams {
  const void* qkv = nullptr;      // [T, (num_heads (x2 gated) + 2 * num_kv_heads) * head_dim]
  const float* bias = nullptr;    // [qkv row width] or null
  const float* q_norm = nullptr;  // [head_dim] or null (no qk_norm)
  const float* k_norm = nullptr;  // [head_dim]
  float norm_eps = 1e-6f;
  bool norm_plus_one = false;
  const float* inv_freq = nullptr;  // [rotary_dim / 2] or null (no RoPE)
  int rotary_dim = 0;
  float attention_scaling = 1.0f;
  const int32_t* positions = nullptr;  // [T]
  const int64_t* slots = nullptr;      // [T]
  const int32_t* exact_rope = nullptr;      // [T] or null (all float32 angles)
  const int32_t* sink_positions = nullptr;  // [T] or null (no sink queries)
  bool output_gate = false;
  void* q_out = nullptr;
  void* q_sink_out = nullptr;  // [T, num_heads, head_dim]; rows without a sink query untouched
  void* k_cache = nullptr;
  void* v_cache = nullptr;
  int num_tokens = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
};
void LaunchPrepareQkv(const PrepareQkvParams& p, DType dtype, cudaStream_t stream);

// The attention output gate (Qwen3.5): x[t, h, i] *= sigmoid(gate[t, h, i] + bias), the gate
// read from the gated fused projection qkv[t, h * 2 * head_dim + head_dim + i] (see
// PrepareQkvParams::output_gate) and the bias from the same column.
struct OutputGateParams {
  void* x = nullptr;            // [T, num_heads * head_dim], in place
  const void* qkv = nullptr;    // [T, qkv_width]
  const float* bias = nullptr;  // [qkv_width] or null
  int num_tokens = 0;
  int num_heads = 0;
  int head_dim = 0;
  int64_t qkv_width = 0;
};
void LaunchOutputGate(const OutputGateParams& p, DType dtype, cudaStream_t stream);

// out[r, i] = silu(gate_up[r, i]) * gate_up[r, width + i]: gate_up is [rows, 2 * width].
struct SwiGluParams {
  const void* gate_up = nullptr;
  void* out = nullptr;  // [rows, width]
  int64_t rows = 0;
  int64_t width = 0;
};
void LaunchSwiGlu(const SwiGluParams& p, DType dtype, cudaStream_t stream);

// x <- relu(x)^2 in place over `count` elements (NemotronH's MLP activation).
void LaunchRelu2(void* x, int64_t count, DType dtype, cudaStream_t stream);

// x[r, i] += bias[i] for a [rows, width] activation (dtype).
void LaunchAddBias(void* x, const float* bias, int64_t rows, int64_t width, DType dtype,
                   cudaStream_t stream);

}  // namespace junction::cuda
