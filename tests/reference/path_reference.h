// Float64 reference of PaTH attention (DESIGN.md §4) with explicit Householder matrices, written
// for clarity at small sizes (O(T^2 d^3)): for query i and key j <= i of kv head h / (H / H_kv),
// a_ij = q_i^T H_i H_{i-1} ... H_{j+1} k_j with H_t = I - beta_t w_t w_t^T (d x d matrices), the
// logit is scale * (a_ij + F_i - F_j), F_i = sum_{t <= i} log_gate_t, and o_i = softmax . v.
#pragma once

#include <vector>

namespace junction::reference {

struct PathProblem {
  int num_tokens = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  double scale = 1.0;
  std::vector<double> q;         // [T, H, d]
  std::vector<double> k, v, w;   // [T, H_kv, d]; w rows unit length
  std::vector<double> beta;      // [T, H_kv]
  std::vector<double> log_gate;  // [T, H]; empty: no forget gate
};

// o: [T, H, d].
std::vector<double> PathAttentionReference(const PathProblem& problem);

}  // namespace junction::reference
