// Mamba2 / SSD kernels on the CPU (DESIGN.md §4), one head of one request at a time:
//   S_t = exp(dt_t A) S_{t-1} + dt_t x_t B_t^T,   y_t = S_t C_t + D x_t
// with S [head_dim, state_size] in float32. Prefill uses the chunked SSD form (quadratic inside
// a chunk, the recurrence across chunks); decode uses the recurrence. Both start from and leave
// the state in `state`, so a prompt may be split into any chunks and steps.
#pragma once

#include <cstdint>

namespace junction::cpu {

// Strided views of one head's inputs for `num_tokens` consecutive tokens.
struct SsdHeadInputs {
  int num_tokens = 0;
  int head_dim = 0;          // P
  int state_size = 0;        // N
  const float* x = nullptr;  // x[t * x_stride + p], p < P
  int64_t x_stride = 0;
  const float* b = nullptr;  // B[t * bc_stride + n], n < N (the head's group)
  const float* c = nullptr;  // C[t * bc_stride + n]
  int64_t bc_stride = 0;
  const float* dt = nullptr;  // dt[t * dt_stride], already softplus'ed and clamped
  int64_t dt_stride = 0;
  float a = 0.0f;  // A = -exp(A_log)
  float d = 0.0f;  // skip connection D
};

// y[t * y_stride + p] for every token by the chunked SSD algorithm with chunks of `chunk_size`
// tokens; `state` ([P, N], row-major) is read as the initial state and overwritten with the
// final one. Allocates scratch of chunk_size^2 floats. Thread-safe for distinct state / y.
void SsdChunkedScan(const SsdHeadInputs& in, int chunk_size, float* state, float* y,
                    int64_t y_stride);

// The same by the token recurrence (decode; cost per token P*N).
void SsdRecurrentScan(const SsdHeadInputs& in, float* state, float* y, int64_t y_stride);

// Causal depthwise conv of width K + bias + SiLU over one request's tokens, channel-major loop.
// in [num_tokens, in_stride] (channels [0, channels)), window [K-1, channels]: the K-1 inputs
// before the first token (oldest first; zeros at the start of a request), updated in place to
// the last K-1 inputs. weight [channels, K], bias [channels] or null. out [num_tokens,
// out_stride]. out may not alias in.
void CausalConvSilu(const float* in, int64_t in_stride, int num_tokens, int channels, int kernel,
                    const float* weight, const float* bias, float* window, float* out,
                    int64_t out_stride);

}  // namespace junction::cpu
