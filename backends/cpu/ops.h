// Dense float32 operations of the CPU reference backend. All tensors are row-major host arrays.
// Functions parallelize internally (OpenMP) and may be called from one thread at a time.
#pragma once

#include <cstdint>

namespace junction::cpu {

// y[rows, out] = x[rows, in] . w[out, in]^T (+ bias[out] when non-null). y must not alias x.
void MatMulTransposed(const float* x, int64_t rows, int64_t in, const float* w, int64_t out,
                      const float* bias, float* y);

// y = x * rsqrt(mean(x^2) + eps) * (w or 1 + w), per row of `width`. y may alias x.
void RmsNorm(const float* x, int64_t rows, int64_t width, const float* w, float eps,
             bool plus_one, float* y);

float Silu(float x);

// out[r, i] = silu(gate[r, i]) * up[r, i]; gate and up are rows of `stride` starting at their
// pointers (so a fused [gate | up] row can be passed as two offsets). out may alias gate.
void SwiGlu(const float* gate, const float* up, int64_t rows, int64_t width, int64_t stride,
            float* out, int64_t out_stride);

// x[rows, width] += scale * y[rows, width].
void AddScaled(float* x, const float* y, int64_t count, float scale);

// Rotates the first `rotary_dim` dims of each of `num_heads` heads (HF rotate_half: dim i pairs
// with i + rotary_dim/2) of one token at `position`. `x` is [num_heads, head_dim].
void ApplyRope(float* x, int num_heads, int head_dim, int rotary_dim, const float* inv_freq,
               float attention_scaling, int64_t position);

}  // namespace junction::cpu
