// "cpu.gated_deltanet": Gated DeltaNet (Qwen3.5 linear attention, fla gated_deltanet) on the
// CPU: chunked WY/UT prefill, recurrent decode, state slots of conv window + fp32 state.
#include "absl/strings/str_cat.h"
#include "backends/cpu/gated_deltanet_layer.h"
#include "engine/common/status_macros.h"

namespace junction::cpu {
namespace {

class GatedDeltaNetBackend : public MixerBackend {
 public:
  GatedDeltaNetBackend() {
    descriptor_.name = "cpu.gated_deltanet";
    descriptor_.kind = MixerKind::kGatedDeltaNet;
    descriptor_.device_class = DeviceClass::kCpu;
    descriptor_.dtypes = {DType::kF32};
  }
  const BackendDescriptor& descriptor() const override { return descriptor_; }

  std::string Rejects(const MixerSpec& mixer, const DeviceInfo& device) const override {
    std::string base = MixerBackend::Rejects(mixer, device);
    if (!base.empty()) return base;
    const auto* spec = std::get_if<GatedDeltaNetSpec>(&mixer.params);
    if (spec == nullptr) return "not a Gated DeltaNet layer";
    if (spec->num_key_heads <= 0 || spec->num_value_heads % spec->num_key_heads != 0)
      return "value heads must be a positive multiple of key heads";
    if (spec->conv_kernel < 1) return "conv kernel must be positive";
    return "";
  }

  absl::StatusOr<std::unique_ptr<MixerLayer>> CreateLayer(
      const LayerContext& context) const override {
    const auto& spec = std::get<GatedDeltaNetSpec>(context.mixer->params);
    ASSIGN_OR_RETURN(GatedDeltaNetWeights weights, LoadGatedDeltaNetWeights(context, spec));
    return std::unique_ptr<MixerLayer>(
        new CpuGatedDeltaNetLayer(context, spec, std::move(weights)));
  }

 private:
  BackendDescriptor descriptor_;
};

}  // namespace

std::unique_ptr<MixerBackend> MakeGatedDeltaNetBackend() {
  return std::make_unique<GatedDeltaNetBackend>();
}

}  // namespace junction::cpu
