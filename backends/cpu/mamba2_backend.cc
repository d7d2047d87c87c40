// PLACEHOLDER: replaced by the backend being written.
#include "backends/cpu/not_built_backend.h"

namespace junction::cpu {

std::unique_ptr<MixerBackend> MakeMamba2Backend() {
  return std::make_unique<NotBuiltBackend>("cpu.mamba2", MixerKind::kMamba2);
}

}  // namespace junction::cpu
