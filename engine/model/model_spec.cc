#include "engine/model/model_spec.h"

namespace junction {

const char* MixerKindName(MixerKind kind) {
  switch (kind) {
    case MixerKind::kAttention: return "attention";
    case MixerKind::kSlidingWindow: return "sliding_window";
    case MixerKind::kPath: return "path";
    case MixerKind::kMamba2: return "mamba2";
    case MixerKind::kGatedDeltaNet: return "gated_deltanet";
  }
  return "?";
}

int ModelSpec::NumLayersWithKvCache() const {
  int n = 0;
  for (const LayerSpec& layer : layers) {
    if (!layer.mixer) continue;
    const MixerKind k = layer.mixer->kind;
    n += k == MixerKind::kAttention || k == MixerKind::kSlidingWindow || k == MixerKind::kPath;
  }
  return n;
}

int ModelSpec::NumLayersWithState() const {
  int n = 0;
  for (const LayerSpec& layer : layers) {
    if (!layer.mixer) continue;
    const MixerKind k = layer.mixer->kind;
    n += k == MixerKind::kMamba2 || k == MixerKind::kGatedDeltaNet;
    // PaTH keeps its w short-conv window per request in a state slot.
    const auto* path = std::get_if<PathSpec>(&layer.mixer->params);
    n += k == MixerKind::kPath && path != nullptr && path->w_shortconv;
  }
  return n;
}

}  // namespace junction
