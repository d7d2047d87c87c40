// "cpu.mamba2": the Mamba2 (SSD) mixer on the CPU: chunked scan for prefill, recurrence for
// decode, conv window and SSM state in per-request state slots (backends/cpu/mamba2_layer.h).
#include "absl/strings/str_cat.h"
#include "backends/cpu/mamba2_layer.h"
#include "engine/common/status_macros.h"

namespace junction::cpu {
namespace {

// Empty when the layer's parameters are consistent, else what is wrong.
std::string CheckSpec(const Mamba2Spec& s) {
  if (s.num_heads <= 0 || s.head_dim <= 0 || s.state_size <= 0 || s.num_groups <= 0)
    return "num_heads, head_dim, state_size and num_groups must be positive";
  if (s.num_heads % s.num_groups != 0) return "num_heads must be a multiple of num_groups";
  if (s.inner_size != s.num_heads * s.head_dim) return "inner_size must be num_heads * head_dim";
  if (s.norm_per_group && s.inner_size % s.num_groups != 0)
    return "inner_size must be a multiple of num_groups for a per-group norm";
  if (s.conv_kernel < 1) return "conv_kernel must be positive";
  if (s.chunk_size < 1) return "chunk_size must be positive";
  if (!(s.dt_min <= s.dt_max)) return "time_step_limit must satisfy dt_min <= dt_max";
  return "";
}

class Mamba2Backend : public MixerBackend {
 public:
  Mamba2Backend() {
    descriptor_.name = "cpu.mamba2";
    descriptor_.kind = MixerKind::kMamba2;
    descriptor_.device_class = DeviceClass::kCpu;
    descriptor_.dtypes = {DType::kF32};
  }
  const BackendDescriptor& descriptor() const override { return descriptor_; }

  std::string Rejects(const MixerSpec& mixer, const DeviceInfo& device) const override {
    std::string reason = MixerBackend::Rejects(mixer, device);
    if (!reason.empty()) return reason;
    const auto* spec = std::get_if<Mamba2Spec>(&mixer.params);
    if (spec == nullptr) return "needs Mamba2 parameters";
    return CheckSpec(*spec);
  }

  absl::StatusOr<std::unique_ptr<MixerLayer>> CreateLayer(
      const LayerContext& context) const override {
    const auto* spec = std::get_if<Mamba2Spec>(&context.mixer->params);
    if (spec == nullptr) return absl::InvalidArgumentError("cpu.mamba2: not a Mamba2 layer");
    if (std::string reason = CheckSpec(*spec); !reason.empty())
      return absl::InvalidArgumentError(absl::StrCat("cpu.mamba2: ", reason));
    if (context.cache.num_state_slots <= 0)
      return absl::InvalidArgumentError("cpu.mamba2: the cache has no state slots");
    ASSIGN_OR_RETURN(Mamba2Weights weights, LoadMamba2Weights(context, *spec));
    return std::unique_ptr<MixerLayer>(new CpuMamba2Layer(context, *spec, weights));
  }

 private:
  BackendDescriptor descriptor_;
};

}  // namespace

std::unique_ptr<MixerBackend> MakeMamba2Backend() { return std::make_unique<Mamba2Backend>(); }

}  // namespace junction::cpu
