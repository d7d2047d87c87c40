// The gated delta rule (DESIGN.md §4, Gated DeltaNet) for one request on the CPU, float32.
// Per value head h (key head h / (Hv / Hk): consecutive groups), with q, k l2-normalized here:
//   S <- exp(g_t) S;  S <- S + beta_t k_t (v_t - S^T k_t)^T;  o_t = S^T (scale q_t).
// Two forms with the same result: the token recurrence (decode) and the chunked WY/UT form
// (prefill). Both continue from the state passed in.
#pragma once

#include <cstdint>

namespace junction::cpu {

struct GdnShape {
  int num_key_heads = 0;    // Hk
  int num_value_heads = 0;  // Hv, a multiple of Hk
  int head_k_dim = 0;       // dk
  int head_v_dim = 0;       // dv
};

// One request's inputs for `num_tokens` tokens. Row t of head h of q is
// q + t * qk_stride + h * dk (same for k); of v: v + t * v_stride + h * dv.
struct GdnInputs {
  int num_tokens = 0;
  const float* q = nullptr;  // raw (not yet normalized) queries, Hk heads
  const float* k = nullptr;  // raw keys, Hk heads
  int64_t qk_stride = 0;
  const float* v = nullptr;  // Hv heads
  int64_t v_stride = 0;
  const float* g = nullptr;     // [num_tokens, Hv] log decay (<= 0)
  const float* beta = nullptr;  // [num_tokens, Hv]
  float scale = 1.0f;           // applied to q after normalization (1/sqrt(dk))
};

// Token by token. state: [Hv, dk, dv] float32, read and updated in place. out: [num_tokens, Hv,
// dv] (overwritten). Parallel over value heads (OpenMP).
void GatedDeltaRuleRecurrent(const GdnShape& shape, const GdnInputs& in, float* state, float* out);

// Chunks of `chunk_size` tokens in the WY/UT form: per chunk, with gamma the in-chunk cumulative
// sum of g, R_i = beta_i (v_i - exp(gamma_i) S^T k_i), U = (I + strict_lower(diag(beta)
// (K K^T o exp(gamma_i - gamma_j))))^-1 R, o_i = exp(gamma_i) S^T q_i + sum_{j<=i}
// exp(gamma_i - gamma_j) (q_i . k_j) u_j, S <- exp(gamma_C) S + sum_j exp(gamma_C - gamma_j) k_j
// u_j^T. Same arguments as the recurrence.
void GatedDeltaRuleChunked(const GdnShape& shape, const GdnInputs& in, int chunk_size, float* state,
                           float* out);

// Causal depthwise conv (no bias) + SiLU, as fla's ShortConvolution and HF's conv1d with
// padding K - 1: y[t, c] = silu(sum_i weight[c, i] x[t - (K - 1) + i, c]), where inputs before
// row 0 come from `window` ([channels, K - 1], oldest first), which is then replaced by the last
// K - 1 inputs. x rows: [num_tokens, channels] at x_stride; y likewise (y must not alias x).
void CausalConvSilu(const float* x, int64_t x_stride, int num_tokens, int channels,
                    const float* weight, int kernel, float* window, float* y, int64_t y_stride);

// x <- x / sqrt(sum x^2 + 1e-6) (fla's and transformers' l2norm), over `dim` floats.
void L2NormalizeInPlace(float* x, int dim);

}  // namespace junction::cpu
