// PLACEHOLDER used while a backend is being written: rejects every layer with that reason.
#pragma once

#include "absl/strings/str_cat.h"
#include "engine/backend/mixer_backend.h"

namespace junction::cpu {

class NotBuiltBackend : public MixerBackend {
 public:
  NotBuiltBackend(std::string name, MixerKind kind) {
    descriptor_.name = std::move(name);
    descriptor_.kind = kind;
  }
  const BackendDescriptor& descriptor() const override { return descriptor_; }
  std::string Rejects(const MixerSpec&, const DeviceInfo&) const override {
    return "not implemented in this build yet";
  }
  absl::StatusOr<std::unique_ptr<MixerLayer>> CreateLayer(const LayerContext&) const override {
    return absl::UnimplementedError(absl::StrCat(descriptor_.name, " is not implemented yet"));
  }

 private:
  BackendDescriptor descriptor_;
};

}  // namespace junction::cpu
