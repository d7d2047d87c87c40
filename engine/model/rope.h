// RoPE frequencies for the default, llama3 and yarn variants, computed as Hugging Face does.
#pragma once

#include <vector>

#include "engine/model/model_spec.h"

namespace junction {

struct RopeFrequencies {
  std::vector<float> inv_freq;   // [rotary_dim / 2]
  float attention_scaling = 1.0f;  // multiplies cos and sin (yarn's mscale)
};

RopeFrequencies ComputeRopeFrequencies(const RopeSpec& rope);

}  // namespace junction
