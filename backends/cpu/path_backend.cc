// PLACEHOLDER: replaced by the backend being written.
#include "backends/cpu/not_built_backend.h"

namespace junction::cpu {

std::unique_ptr<MixerBackend> MakePathBackend() {
  return std::make_unique<NotBuiltBackend>("cpu.path", MixerKind::kPath);
}

}  // namespace junction::cpu
