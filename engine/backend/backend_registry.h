// BackendRegistry: every mixer backend, in priority order (fastest first). Selection explains
// each rejection so the router can report why a backend was or was not chosen.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend/mixer_backend.h"

namespace junction {

struct BackendRejection {
  std::string backend;
  std::string reason;
};

struct BackendSelection {
  const MixerBackend* backend = nullptr;
  std::vector<BackendRejection> rejected;  // candidates tried before the chosen one
};

class BackendRegistry {
 public:
  // Appends `backend` after the ones already registered (lower priority). Not thread-safe:
  // register everything at start-up.
  void Register(std::unique_ptr<MixerBackend> backend);

  // The first backend that accepts `mixer` on `device` (and is named `pinned`, when given).
  // NotFound lists every candidate with its reason when none accepts.
  absl::StatusOr<BackendSelection> Select(const MixerSpec& mixer, const DeviceInfo& device,
                                          const std::string& pinned = "") const;

  const MixerBackend* Find(const std::string& name) const;
  std::vector<const MixerBackend*> backends() const;

 private:
  std::vector<std::unique_ptr<MixerBackend>> backends_;
};

}  // namespace junction
