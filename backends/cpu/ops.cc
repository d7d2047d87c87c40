#include "backends/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace junction::cpu {
namespace {

// 4 rows x 4 outputs per call: 8 streams of loads feed 16 independent accumulations, which the
// compiler keeps in vector registers.
inline void Dot4x4(const float* x, int64_t in, const float* w, float acc[4][4]) {
  const float* x0 = x;
  const float* x1 = x + in;
  const float* x2 = x + 2 * in;
  const float* x3 = x + 3 * in;
  const float* w0 = w;
  const float* w1 = w + in;
  const float* w2 = w + 2 * in;
  const float* w3 = w + 3 * in;
  float a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0;
  float a20 = 0, a21 = 0, a22 = 0, a23 = 0, a30 = 0, a31 = 0, a32 = 0, a33 = 0;
#pragma omp simd reduction(+ : a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33)
  for (int64_t i = 0; i < in; ++i) {
    a00 += x0[i] * w0[i]; a01 += x0[i] * w1[i]; a02 += x0[i] * w2[i]; a03 += x0[i] * w3[i];
    a10 += x1[i] * w0[i]; a11 += x1[i] * w1[i]; a12 += x1[i] * w2[i]; a13 += x1[i] * w3[i];
    a20 += x2[i] * w0[i]; a21 += x2[i] * w1[i]; a22 += x2[i] * w2[i]; a23 += x2[i] * w3[i];
    a30 += x3[i] * w0[i]; a31 += x3[i] * w1[i]; a32 += x3[i] * w2[i]; a33 += x3[i] * w3[i];
  }
  acc[0][0] = a00; acc[0][1] = a01; acc[0][2] = a02; acc[0][3] = a03;
  acc[1][0] = a10; acc[1][1] = a11; acc[1][2] = a12; acc[1][3] = a13;
  acc[2][0] = a20; acc[2][1] = a21; acc[2][2] = a22; acc[2][3] = a23;
  acc[3][0] = a30; acc[3][1] = a31; acc[3][2] = a32; acc[3][3] = a33;
}

inline float Dot(const float* a, const float* b, int64_t n) {
  float acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

}  // namespace

void MatMulTransposed(const float* x, int64_t rows, int64_t in, const float* w, int64_t out,
                      const float* bias, float* y) {
  const int64_t out_tiles = (out + 3) / 4;
  // Output columns are split across threads so each weight row is read by one thread only.
  // Below ~1M multiply-adds a thread team costs more than it saves (decode of tiny models).
  const bool parallel = rows * in * out > (int64_t{1} << 20);
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t tile = 0; tile < out_tiles; ++tile) {
    const int64_t o = tile * 4;
    const bool full_o = o + 4 <= out;
    int64_t r = 0;
    if (full_o) {
      for (; r + 4 <= rows; r += 4) {
        float acc[4][4];
        Dot4x4(x + r * in, in, w + o * in, acc);
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < 4; ++j) y[(r + i) * out + o + j] = acc[i][j];
      }
    }
    for (; r < rows; ++r)
      for (int64_t j = o; j < std::min(o + 4, out); ++j)
        y[r * out + j] = Dot(x + r * in, w + j * in, in);
    if (bias)
      for (int64_t rr = 0; rr < rows; ++rr)
        for (int64_t j = o; j < std::min(o + 4, out); ++j) y[rr * out + j] += bias[j];
  }
}

void RmsNorm(const float* x, int64_t rows, int64_t width, const float* w, float eps,
             bool plus_one, float* y) {
#pragma omp parallel for schedule(static) if (rows > 8)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * width;
    float* yr = y + r * width;
    // Sum of squares in double: width can be large and this is the reference path.
    double sum = 0;
    for (int64_t i = 0; i < width; ++i) sum += static_cast<double>(xr[i]) * xr[i];
    const float inv = 1.0f / std::sqrt(static_cast<float>(sum / width) + eps);
    for (int64_t i = 0; i < width; ++i) {
      const float scale = w ? (plus_one ? 1.0f + w[i] : w[i]) : 1.0f;
      yr[i] = xr[i] * inv * scale;
    }
  }
}

float Silu(float x) { return x / (1.0f + std::exp(-x)); }

void SwiGlu(const float* gate, const float* up, int64_t rows, int64_t width, int64_t stride,
            float* out, int64_t out_stride) {
#pragma omp parallel for schedule(static) if (rows > 8)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < width; ++i)
      out[r * out_stride + i] = Silu(gate[r * stride + i]) * up[r * stride + i];
}

void AddScaled(float* x, const float* y, int64_t count, float scale) {
#pragma omp simd
  for (int64_t i = 0; i < count; ++i) x[i] += scale * y[i];
}

void ApplyRope(float* x, int num_heads, int head_dim, int rotary_dim, const float* inv_freq,
               float attention_scaling, int64_t position) {
  const int half = rotary_dim / 2;
  float cos_table[256], sin_table[256];
  std::vector<float> big_cos, big_sin;
  float* cs = cos_table;
  float* sn = sin_table;
  if (half > 256) {
    big_cos.resize(half);
    big_sin.resize(half);
    cs = big_cos.data();
    sn = big_sin.data();
  }
  for (int i = 0; i < half; ++i) {
    // HF multiplies float32 inv_freq by a float32 position, then takes cos/sin in float32.
    const float angle = inv_freq[i] * static_cast<float>(position);
    cs[i] = std::cos(angle) * attention_scaling;
    sn[i] = std::sin(angle) * attention_scaling;
  }
  for (int h = 0; h < num_heads; ++h) {
    float* v = x + static_cast<int64_t>(h) * head_dim;
    for (int i = 0; i < half; ++i) {
      const float a = v[i];
      const float b = v[i + half];
      v[i] = a * cs[i] - b * sn[i];
      v[i + half] = b * cs[i] + a * sn[i];
    }
  }
}

}  // namespace junction::cpu
