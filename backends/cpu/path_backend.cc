// "cpu.path": PaTH attention (fla path_attn) on the CPU over its own paged K/V (+ forget-gate
// sums); keys are rewritten every step, so its blocks are never shared between requests.
#include "backends/cpu/path_layer.h"
#include "engine/common/status_macros.h"

namespace junction::cpu {
namespace {

class PathBackend : public MixerBackend {
 public:
  PathBackend() {
    descriptor_.name = "cpu.path";
    descriptor_.kind = MixerKind::kPath;
    descriptor_.device_class = DeviceClass::kCpu;
    descriptor_.dtypes = {DType::kF32};
  }
  const BackendDescriptor& descriptor() const override { return descriptor_; }

  std::string Rejects(const MixerSpec& mixer, const DeviceInfo& device) const override {
    std::string base = MixerBackend::Rejects(mixer, device);
    if (!base.empty()) return base;
    const auto* spec = std::get_if<PathSpec>(&mixer.params);
    if (spec == nullptr) return "not a PaTH layer";
    if (spec->num_kv_heads <= 0 || spec->num_heads % spec->num_kv_heads != 0)
      return "num_heads must be a positive multiple of num_kv_heads";
    if (spec->w_shortconv && spec->conv_kernel < 1) return "w conv kernel must be positive";
    return "";
  }

  absl::StatusOr<std::unique_ptr<MixerLayer>> CreateLayer(
      const LayerContext& context) const override {
    const auto& spec = std::get<PathSpec>(context.mixer->params);
    ASSIGN_OR_RETURN(PathWeights weights, LoadPathWeights(context, spec));
    return std::unique_ptr<MixerLayer>(new CpuPathLayer(context, spec, std::move(weights)));
  }

 private:
  BackendDescriptor descriptor_;
};

}  // namespace

std::unique_ptr<MixerBackend> MakePathBackend() { return std::make_unique<PathBackend>(); }

}  // namespace junction::cpu
