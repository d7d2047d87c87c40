// Gated DeltaNet kernels (DESIGN.md §4): float32 activations, gates, states and arithmetic;
// bf16 only for the chunked prefill's tensor-core operands.
// Per value head h (key head h / (Hv / Hk)), with q, k l2-normalized (q also scaled):
//   S <- exp(g_t) S;  S <- S + beta_t k_t (v_t - S^T k_t)^T;  o_t = S^T q_t.
//   prep:    [q|k|v] <- silu(causal depthwise conv(projection)) (or silu only), conv window
//            continued from the state slot; l2norm of q and k; g, beta from the a/b projections;
//            float32 out, plus a bf16 copy for the chunked prefill when asked;
//   prefill: the chunked WY/UT form over 64-token chunks, in three launches that overlap (each
//            CTA waits for the (chunk, head) it needs; see LaunchPrefillDims):
//            (1) per (chunk, head): gamma = cumsum g, A = (I + strict_lower(diag(beta)
//                (K K^T o exp(gamma_i - gamma_j))))^-1 by forward substitution (fp32),
//                W = A diag(beta exp(gamma)) K, U = A diag(beta) V on tensor cores;
//            (2) per (request, head, dv tile): the fp32 state carried across the request's
//                chunks in registers: H_c (state before chunk c) saved, V_new = U - W H_c,
//                S <- exp(gamma_C) S + (K o exp(gamma_C - gamma))^T V_new;
//            (3) per (chunk, head): O = diag(exp(gamma)) Q H_c + (Q K^T o decay, causal) V_new;
//   decode:  one recurrence step per single-token request, head and 32-column dv tile (the
//            update of a state column needs only that column), the fp32 state read and written
//            once (bandwidth-bound); the output norm spans the tiles, so the last tile of a head
//            to finish normalizes the head's row.
// Both output kernels can fuse the output RMSNorm per head (w or 1 + w) and the silu(gate).
// Every launcher enqueues on `stream`, takes raw device pointers in a params struct and never
// synchronizes. Work lists live in device memory, built on the host by BuildGdnWork.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

namespace junction::cuda {

inline constexpr int kGdnChunk = 64;  // tokens per chunk of the WY/UT form

struct GdnDims {
  int num_key_heads = 0;    // Hk
  int num_value_heads = 0;  // Hv, a multiple of Hk
  int head_k_dim = 0;       // dk
  int head_v_dim = 0;       // dv
};

// (dk, dv) pairs the kernels are built for.
bool GdnSupportsDims(int head_k_dim, int head_v_dim);

// One request's tokens in this step.
struct GdnRequest {
  int32_t first_token = 0;  // row of the step's activations
  int32_t num_tokens = 0;
  int32_t slot = 0;         // state slot
  int32_t fresh = 0;        // 1: zero conv window and state (num_computed == 0; slot not read)
  int32_t first_chunk = 0;  // prefill requests: index of its first GdnChunk
  int32_t num_chunks = 0;
};

struct GdnChunk {
  int32_t first_token = 0;
  int32_t num_tokens = 0;  // 1..kGdnChunk
};

// Chunk `ci` of a prefill request: kGdnChunk-token pieces from its first token, in order. The
// host's work lists (BuildGdnWork) and the state kernel both cut requests this way.
__host__ __device__ inline GdnChunk RequestChunk(const GdnRequest& r, int ci) {
  const int32_t first = ci * kGdnChunk, left = r.num_tokens - first;
  return {r.first_token + first, left < kGdnChunk ? left : kGdnChunk};
}

// The host work lists of a step: every request (prep, conv windows), the multi-token ones with
// their chunks (prefill kernels) and the single-token ones (decode kernel); token_request maps
// each row to its index in `requests`.
struct GdnWork {
  std::vector<GdnRequest> requests, prefill, decode;
  std::vector<GdnChunk> chunks;
  std::vector<int32_t> token_request;
};
GdnWork BuildGdnWork(const std::vector<GdnRequest>& requests, int num_tokens);

struct GdnPrepParams {
  GdnDims dims;
  const float* proj = nullptr;  // [T, proj_stride] float32; columns [q | k | v] first (conv_dim)
  int64_t proj_stride = 0;
  const float* ab = nullptr;   // [T, 2 * Hv] float32: a_proj x then b_proj x
  const float* conv_weight = nullptr;  // [conv_dim, conv_kernel]
  int conv_kernel = 4;
  bool short_conv = true;
  float* conv_state = nullptr;  // [slots, conv_dim, conv_kernel - 1], oldest input first
  const GdnRequest* requests = nullptr;
  int num_requests = 0;
  const int32_t* token_request = nullptr;  // [T]
  const float* a_log = nullptr;    // [Hv]
  const float* dt_bias = nullptr;  // [Hv]
  float beta_scale = 1.0f;
  float q_scale = 1.0f;  // 1 / sqrt(dk), applied after the l2 norm
  float* mixed = nullptr;  // out [T, conv_dim] float32: normalized q | normalized k | v
  void* mixed_bf16 = nullptr;  // out, optional: the same rounded to bf16 (prefill operands)
  float* g = nullptr;     // out [T, Hv]
  float* beta = nullptr;  // out [T, Hv]
  int num_tokens = 0;
};
// Conv (or silu) + l2 norms + gates; then, for short_conv, a second launch that rewrites every
// request's conv window with its last conv_kernel - 1 inputs.
void LaunchGdnPrep(const GdnPrepParams& p, cudaStream_t stream);

struct GdnCoreParams {
  GdnDims dims;
  // Inputs, rows of the step: head kh of q at q + row * qk_stride + kh * dk (k likewise), head
  // h of v at v + row * v_stride + h * dv; q, k l2-normalized, q scaled. The chunked prefill
  // reads the bf16 copies (q, k, v), the decode step the float32 ones (q_f32, ...), both with
  // these strides.
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  const float* q_f32 = nullptr;
  const float* k_f32 = nullptr;
  const float* v_f32 = nullptr;
  int64_t qk_stride = 0;
  int64_t v_stride = 0;
  const float* g = nullptr;     // [T, Hv] log decay (<= 0)
  const float* beta = nullptr;  // [T, Hv]
  float* state = nullptr;       // [slots, Hv, dk, dv] float32, updated in place
  // Work lists (device).
  const GdnRequest* prefill = nullptr;
  int num_prefill = 0;
  const GdnChunk* chunks = nullptr;
  int num_chunks = 0;
  const GdnRequest* decode = nullptr;
  int num_decode = 0;
  // Prefill scratch: w [T, Hv, dk] bf16, u [T, Hv, dv] bf16 (becomes V_new),
  // gamma [num_chunks, Hv, 64] float32, h [num_chunks, Hv, dk, dv] bf16, ready [2, num_chunks,
  // Hv] int32 (the passes' progress counters; the launcher zeroes them).
  void* w = nullptr;
  void* u = nullptr;
  float* gamma = nullptr;
  void* h = nullptr;
  int32_t* ready = nullptr;
  int num_sms = 132;
  int state_tile = 0;  // dv columns per CTA of the prefill's state pass: 16, 32, or 0 (chosen)
  // The three prefill passes: 1 overlap, 0 run one after another, -1 chosen by the launcher.
  int overlap_passes = -1;
  // Decode scratch, needed with norm_weight when dv > 32 (several dv tiles per head):
  // decode_o [T, Hv, dv] float32 (the raw outputs) and decode_count [num_decode, Hv] int32,
  // zero before the first launch (every launch leaves it zero again).
  float* decode_o = nullptr;
  int32_t* decode_count = nullptr;
  // Output [T, Hv * dv] bf16; with norm_weight, o <- rmsnorm_per_head(o) * (w or 1 + w), then
  // with gate, o <- o * silu(gate[row * gate_stride + h * dv + i]).
  void* o = nullptr;
  const float* norm_weight = nullptr;  // [dv] or null (raw o)
  float norm_eps = 1e-6f;
  bool norm_plus_one = false;
  const float* gate = nullptr;  // float32 or null
  int64_t gate_stride = 0;
};

// dv columns per CTA of the decode step.
int GdnDecodeTile(int head_v_dim);
// The chunked prefill of every request in `prefill` (three launches; none when empty).
void LaunchGdnPrefill(const GdnCoreParams& p, cudaStream_t stream);
// One recurrence step of every request in `decode` (one launch; none when empty).
void LaunchGdnDecode(const GdnCoreParams& p, cudaStream_t stream);

}  // namespace junction::cuda
