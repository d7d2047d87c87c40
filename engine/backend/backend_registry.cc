#include "engine/backend/backend_registry.h"

#include "absl/strings/str_cat.h"

namespace junction {

void BackendRegistry::Register(std::unique_ptr<MixerBackend> backend) {
  backends_.push_back(std::move(backend));
}

absl::StatusOr<BackendSelection> BackendRegistry::Select(const MixerSpec& mixer,
                                                         const DeviceInfo& device,
                                                         const std::string& pinned) const {
  BackendSelection selection;
  for (const auto& backend : backends_) {
    const BackendDescriptor& d = backend->descriptor();
    if (d.kind != mixer.kind) continue;
    std::string reason = backend->Rejects(mixer, device);
    if (reason.empty() && !pinned.empty() && d.name != pinned)
      reason = absl::StrCat("not the pinned backend '", pinned, "'");
    if (reason.empty()) {
      selection.backend = backend.get();
      return selection;
    }
    selection.rejected.push_back({d.name, reason});
  }
  std::string message =
      absl::StrCat("no backend can serve a ", MixerKindName(mixer.kind), " layer on ",
                   device.device_class == DeviceClass::kCuda ? "CUDA" : "the CPU");
  if (selection.rejected.empty()) absl::StrAppend(&message, ": none is registered for this kind");
  for (const BackendRejection& r : selection.rejected)
    absl::StrAppend(&message, "; ", r.backend, ": ", r.reason);
  return absl::NotFoundError(message);
}

const MixerBackend* BackendRegistry::Find(const std::string& name) const {
  for (const auto& b : backends_)
    if (b->descriptor().name == name) return b.get();
  return nullptr;
}

std::vector<const MixerBackend*> BackendRegistry::backends() const {
  std::vector<const MixerBackend*> out;
  for (const auto& b : backends_) out.push_back(b.get());
  return out;
}

}  // namespace junction
