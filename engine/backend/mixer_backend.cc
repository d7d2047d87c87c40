#include "engine/backend/mixer_backend.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace junction {

std::string MixerBackend::Rejects(const MixerSpec& mixer, const DeviceInfo& device) const {
  const BackendDescriptor& d = descriptor();
  if (mixer.kind != d.kind)
    return absl::StrCat("serves ", MixerKindName(d.kind), ", not ", MixerKindName(mixer.kind));
  if (d.device_class != device.device_class)
    return d.device_class == DeviceClass::kCuda ? "needs a CUDA device" : "runs on the CPU only";
  if (d.device_class == DeviceClass::kCuda && device.cuda_sm < d.min_cuda_sm)
    return absl::StrCat("needs sm_", d.min_cuda_sm, ", device is sm_", device.cuda_sm);
  int head_dim = 0;
  if (const auto* a = std::get_if<AttentionSpec>(&mixer.params)) head_dim = a->head_dim;
  if (const auto* p = std::get_if<PathSpec>(&mixer.params)) head_dim = p->head_dim;
  if (head_dim > 0 && !d.head_dims.empty() &&
      std::find(d.head_dims.begin(), d.head_dims.end(), head_dim) == d.head_dims.end())
    return absl::StrCat("head_dim ", head_dim, " not supported");
  return "";
}

}  // namespace junction
