// PLACEHOLDER: replaced by the backend being written.
#include "backends/cpu/not_built_backend.h"

namespace junction::cpu {

std::unique_ptr<MixerBackend> MakeWindowBackend() {
  return std::make_unique<NotBuiltBackend>("cpu.window", MixerKind::kSlidingWindow);
}

}  // namespace junction::cpu
