#include "tests/reference/path_reference.h"

#include <algorithm>
#include <cmath>

namespace junction::reference {
namespace {

using Matrix = std::vector<double>;  // d x d, row-major

Matrix Identity(int d) {
  Matrix m(static_cast<size_t>(d) * d, 0.0);
  for (int i = 0; i < d; ++i) m[i * d + i] = 1.0;
  return m;
}

// I - beta w w^T.
Matrix Householder(const double* w, double beta, int d) {
  Matrix m = Identity(d);
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) m[i * d + j] -= beta * w[i] * w[j];
  return m;
}

Matrix Multiply(const Matrix& a, const Matrix& b, int d) {
  Matrix c(static_cast<size_t>(d) * d, 0.0);
  for (int i = 0; i < d; ++i)
    for (int x = 0; x < d; ++x)
      for (int j = 0; j < d; ++j) c[i * d + j] += a[i * d + x] * b[x * d + j];
  return c;
}

// x^T M y.
double Bilinear(const double* x, const Matrix& m, const double* y, int d) {
  double sum = 0;
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) sum += x[i] * m[i * d + j] * y[j];
  return sum;
}

}  // namespace

std::vector<double> PathAttentionReference(const PathProblem& p) {
  const int t_len = p.num_tokens, h = p.num_heads, hkv = p.num_kv_heads, d = p.head_dim;
  const int group = h / hkv;
  std::vector<double> forget(static_cast<size_t>(t_len) * h, 0.0);
  if (!p.log_gate.empty())
    for (int x = 0; x < h; ++x) {
      double running = 0;
      for (int t = 0; t < t_len; ++t) forget[t * h + x] = running += p.log_gate[t * h + x];
    }
  std::vector<double> out(static_cast<size_t>(t_len) * h * d, 0.0);
  for (int head = 0; head < h; ++head) {
    const int g = head / group;
    for (int i = 0; i < t_len; ++i) {
      const double* q = &p.q[(i * h + head) * d];
      // product = H_i H_{i-1} ... H_{j+1}, extended on the right as j decreases.
      Matrix product = Identity(d);
      std::vector<double> logits(i + 1);
      for (int j = i; j >= 0; --j) {
        const double a = Bilinear(q, product, &p.k[(j * hkv + g) * d], d);
        logits[j] = p.scale * (a + forget[i * h + head] - forget[j * h + head]);
        product =
            Multiply(product, Householder(&p.w[(j * hkv + g) * d], p.beta[j * hkv + g], d), d);
      }
      const double max = *std::max_element(logits.begin(), logits.end());
      double sum = 0;
      for (double& l : logits) sum += l = std::exp(l - max);
      for (int j = 0; j <= i; ++j)
        for (int x = 0; x < d; ++x)
          out[(i * h + head) * d + x] += logits[j] / sum * p.v[(j * hkv + g) * d + x];
    }
  }
  return out;
}

}  // namespace junction::reference
