// PLACEHOLDER: replaced by the backend being written.
#include "backends/cpu/not_built_backend.h"

namespace junction::cpu {

std::unique_ptr<MixerBackend> MakeGatedDeltaNetBackend() {
  return std::make_unique<NotBuiltBackend>("cpu.gated_deltanet", MixerKind::kGatedDeltaNet);
}

}  // namespace junction::cpu
