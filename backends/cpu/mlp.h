// The MLP of a layer on the CPU: SwiGLU (separate or fused gate/up) or relu^2.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/model_spec.h"
#include "engine/model/weight_store.h"

namespace junction::cpu {

class CpuMlp {
 public:
  static absl::StatusOr<CpuMlp> Load(const MlpSpec& spec, int hidden, const WeightStore& weights);
  // out[num_tokens, hidden] = mlp(x[num_tokens, hidden]). out must not alias x.
  void Run(const float* x, int num_tokens, float* out);

 private:
  MlpSpec spec_;
  int hidden_ = 0;
  const float* gate_up_ = nullptr;  // [2 * intermediate, hidden]: gate rows, then up rows
  const float* gate_ = nullptr;     // [intermediate, hidden]
  const float* up_ = nullptr;       // [intermediate, hidden]
  const float* down_ = nullptr;     // [hidden, intermediate]
  std::vector<float> a_, b_;
};

}  // namespace junction::cpu
