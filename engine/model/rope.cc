#include "engine/model/rope.h"

#include <algorithm>
#include <cmath>

namespace junction {
namespace {

// HF computes these in float32 (torch default dtype); so do we, for bit-level agreement.
std::vector<float> DefaultInvFreq(double theta, int dim) {
  std::vector<float> inv(dim / 2);
  for (int i = 0; i < dim / 2; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    inv[i] = 1.0f / std::pow(static_cast<float>(theta), exponent);
  }
  return inv;
}

void ApplyLlama3(const RopeSpec& rope, std::vector<float>& inv) {
  const double old_context = rope.original_max_positions;
  const double low_wavelen = old_context / rope.low_freq_factor;
  const double high_wavelen = old_context / rope.high_freq_factor;
  for (float& f : inv) {
    const double wavelen = 2.0 * M_PI / f;
    double scaled = wavelen > low_wavelen ? f / rope.factor : f;
    if (wavelen >= high_wavelen && wavelen <= low_wavelen) {
      const double smooth = (old_context / wavelen - rope.low_freq_factor) /
                            (rope.high_freq_factor - rope.low_freq_factor);
      scaled = (1 - smooth) * scaled / rope.factor + smooth * scaled;
    }
    f = static_cast<float>(scaled);
  }
}

void ApplyYarn(const RopeSpec& rope, int dim, std::vector<float>& inv) {
  auto correction_dim = [&](double rotations) {
    return dim * std::log(rope.original_max_positions / (rotations * 2 * M_PI)) /
           (2 * std::log(rope.theta));
  };
  double low = correction_dim(rope.beta_fast);
  double high = correction_dim(rope.beta_slow);
  if (rope.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;
  for (int i = 0; i < dim / 2; ++i) {
    const float ramp =
        std::clamp(static_cast<float>((i - low) / (high - low)), 0.0f, 1.0f);
    const float extrapolation_weight = 1.0f - ramp;
    const float extrapolated = inv[i];
    const float interpolated = inv[i] / static_cast<float>(rope.factor);
    inv[i] = interpolated * (1 - extrapolation_weight) + extrapolated * extrapolation_weight;
  }
}

}  // namespace

RopeFrequencies ComputeRopeFrequencies(const RopeSpec& rope) {
  RopeFrequencies out;
  if (rope.type == RopeType::kNone || rope.rotary_dim == 0) return out;
  out.inv_freq = DefaultInvFreq(rope.theta, rope.rotary_dim);
  if (rope.type == RopeType::kLlama3) ApplyLlama3(rope, out.inv_freq);
  if (rope.type == RopeType::kYarn) {
    ApplyYarn(rope, rope.rotary_dim, out.inv_freq);
    out.attention_scaling = static_cast<float>(rope.attention_factor);
  }
  return out;
}

}  // namespace junction
