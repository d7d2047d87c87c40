// Float64 reference of the Mamba2 mixer (DESIGN.md §4) by the token recurrence, written for
// clarity: in_proj -> causal depthwise conv + SiLU -> softplus / clamp dt -> per head
// S_t = exp(dt_t A) S_{t-1} + dt_t x_t B_t^T, y_t = S_t C_t + D x_t -> gated RMSNorm -> out_proj.
#pragma once

#include <string>
#include <vector>

#include "engine/model/model_spec.h"
#include "engine/model/weight_store.h"

namespace junction::reference {

// Mixer outputs [num_tokens, hidden] for inputs x [num_tokens, hidden] of one request that
// starts from zero state. Weights `<prefix>{in_proj.weight, conv1d.weight, conv1d.bias,
// dt_bias, A_log, D, norm.weight, out_proj.weight}` (+ in_proj.bias / out_proj.bias when
// spec.proj_bias) from `weights`.
std::vector<double> Mamba2Reference(const Mamba2Spec& spec, int hidden, const WeightStore& weights,
                                    const std::string& prefix, const std::vector<double>& x,
                                    int num_tokens);

}  // namespace junction::reference
