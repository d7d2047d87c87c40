// "cpu.window": softmax attention restricted to a sliding window (+ global sink tokens) over
// paged KV on the CPU, for layers a model trained with a window (Mistral, Qwen sliding layers).
// It shares CpuAttentionLayer with "cpu.flash"; both serve AttentionPolicy::kWindow requests.
#include "backends/cpu/attention_layer.h"
#include "engine/common/status_macros.h"

namespace junction::cpu {
namespace {

class WindowBackend : public MixerBackend {
 public:
  WindowBackend() {
    descriptor_.name = "cpu.window";
    descriptor_.kind = MixerKind::kSlidingWindow;
    descriptor_.device_class = DeviceClass::kCpu;
    descriptor_.dtypes = {DType::kF32};
    descriptor_.window_policy = true;
  }
  const BackendDescriptor& descriptor() const override { return descriptor_; }

  std::string Rejects(const MixerSpec& mixer, const DeviceInfo& device) const override {
    std::string reason = MixerBackend::Rejects(mixer, device);
    if (!reason.empty()) return reason;
    const auto* spec = std::get_if<AttentionSpec>(&mixer.params);
    if (spec == nullptr) return "needs attention parameters";
    if (spec->sliding_window <= 0) return "the layer has no sliding window";
    return "";
  }

  absl::StatusOr<std::unique_ptr<MixerLayer>> CreateLayer(
      const LayerContext& context) const override {
    const auto& spec = std::get<AttentionSpec>(context.mixer->params);
    ASSIGN_OR_RETURN(AttentionWeights weights, LoadAttentionWeights(context, spec));
    return std::unique_ptr<MixerLayer>(
        new CpuAttentionLayer(context, spec, weights, descriptor_.window_policy));
  }

 private:
  BackendDescriptor descriptor_;
};

}  // namespace

std::unique_ptr<MixerBackend> MakeWindowBackend() { return std::make_unique<WindowBackend>(); }

}  // namespace junction::cpu
