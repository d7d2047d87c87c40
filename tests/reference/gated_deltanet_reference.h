// Float64 reference of the gated delta rule (DESIGN.md §4, Gated DeltaNet), token by token,
// written for clarity. Value head h reads key head h / (Hv / Hk).
#pragma once

#include <vector>

namespace junction::reference {

struct GdnProblem {
  int num_tokens = 0;
  int num_key_heads = 0;
  int num_value_heads = 0;
  int head_k_dim = 0;
  int head_v_dim = 0;
  double scale = 1.0;
  std::vector<double> q, k;  // [T, Hk, dk], raw (l2-normalized by the reference)
  std::vector<double> v;     // [T, Hv, dv]
  std::vector<double> g;     // [T, Hv] log decay
  std::vector<double> beta;  // [T, Hv]
};

// Runs the recurrence from `state` ([Hv, dk, dv], updated in place) and returns o [T, Hv, dv]:
// S <- exp(g) S; S <- S + beta k (v - S^T k)^T; o = S^T (scale q), with q, k l2-normalized
// (x / sqrt(sum x^2 + 1e-6)).
std::vector<double> GatedDeltaRuleReference(const GdnProblem& problem, std::vector<double>& state);

}  // namespace junction::reference
