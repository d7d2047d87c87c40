#include "backends/cpu/mlp.h"

#include "backends/cpu/ops.h"
#include "engine/common/status_macros.h"

namespace junction::cpu {

absl::StatusOr<CpuMlp> CpuMlp::Load(const MlpSpec& spec, int hidden, const WeightStore& w) {
  CpuMlp mlp;
  mlp.spec_ = spec;
  mlp.hidden_ = hidden;
  const int64_t inter = spec.intermediate_size;
  if (!spec.fused_gate_up.empty()) {
    ASSIGN_OR_RETURN(mlp.gate_up_, w.GetF32(spec.fused_gate_up, {2 * inter, hidden}));
  } else {
    if (spec.kind == MlpKind::kSwiGlu) {
      ASSIGN_OR_RETURN(mlp.gate_, w.GetF32(spec.gate, {inter, hidden}));
    }
    ASSIGN_OR_RETURN(mlp.up_, w.GetF32(spec.up, {inter, hidden}));
  }
  ASSIGN_OR_RETURN(mlp.down_, w.GetF32(spec.down, {hidden, inter}));
  return mlp;
}

void CpuMlp::Run(const float* x, int num_tokens, float* out) {
  const int64_t inter = spec_.intermediate_size;
  const int64_t n = num_tokens;
  if (spec_.kind == MlpKind::kRelu2) {
    a_.resize(n * inter);
    MatMulTransposed(x, n, hidden_, up_, inter, nullptr, a_.data());
    for (float& v : a_) v = v > 0 ? v * v : 0.0f;
  } else if (gate_up_) {
    b_.resize(n * 2 * inter);
    MatMulTransposed(x, n, hidden_, gate_up_, 2 * inter, nullptr, b_.data());
    a_.resize(n * inter);
    SwiGlu(b_.data(), b_.data() + inter, n, inter, 2 * inter, a_.data(), inter);
  } else {
    a_.resize(n * inter);
    b_.resize(n * inter);
    MatMulTransposed(x, n, hidden_, gate_, inter, nullptr, a_.data());
    MatMulTransposed(x, n, hidden_, up_, inter, nullptr, b_.data());
    SwiGlu(a_.data(), b_.data(), n, inter, inter, a_.data(), inter);
  }
  MatMulTransposed(a_.data(), n, inter, down_, hidden_, nullptr, out);
}

}  // namespace junction::cpu
