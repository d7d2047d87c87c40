#include "tests/reference/gated_deltanet_reference.h"

#include <cmath>

namespace junction::reference {
namespace {

std::vector<double> L2Normalized(const double* x, int dim) {
  double sum = 0;
  for (int i = 0; i < dim; ++i) sum += x[i] * x[i];
  const double inv = 1.0 / std::sqrt(sum + 1e-6);
  std::vector<double> out(x, x + dim);
  for (double& v : out) v *= inv;
  return out;
}

}  // namespace

std::vector<double> GatedDeltaRuleReference(const GdnProblem& p, std::vector<double>& state) {
  const int dk = p.head_k_dim, dv = p.head_v_dim, hk = p.num_key_heads, hv = p.num_value_heads;
  const int group = hv / hk;
  std::vector<double> out(static_cast<size_t>(p.num_tokens) * hv * dv, 0.0);
  for (int t = 0; t < p.num_tokens; ++t) {
    for (int h = 0; h < hv; ++h) {
      const int kh = h / group;
      const std::vector<double> q = L2Normalized(&p.q[(t * hk + kh) * dk], dk);
      const std::vector<double> k = L2Normalized(&p.k[(t * hk + kh) * dk], dk);
      const double* v = &p.v[(t * hv + h) * dv];
      double* s = &state[static_cast<size_t>(h) * dk * dv];  // s[i * dv + j]
      const double decay = std::exp(p.g[t * hv + h]);
      const double beta = p.beta[t * hv + h];
      for (int i = 0; i < dk * dv; ++i) s[i] *= decay;
      for (int j = 0; j < dv; ++j) {
        double stk = 0;  // (S^T k)_j
        for (int i = 0; i < dk; ++i) stk += s[i * dv + j] * k[i];
        const double u = beta * (v[j] - stk);
        for (int i = 0; i < dk; ++i) s[i * dv + j] += k[i] * u;
      }
      for (int j = 0; j < dv; ++j) {
        double o = 0;
        for (int i = 0; i < dk; ++i) o += s[i * dv + j] * q[i] * p.scale;
        out[(static_cast<size_t>(t) * hv + h) * dv + j] = o;
      }
    }
  }
  return out;
}

}  // namespace junction::reference
