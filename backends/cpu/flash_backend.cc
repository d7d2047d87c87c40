// "cpu.flash": softmax attention over paged KV on the CPU, full causal or sinks + window.
#include "absl/strings/str_cat.h"
#include "backends/cpu/attention_layer.h"
#include "engine/common/status_macros.h"

namespace junction::cpu {
namespace {

class FlashBackend : public MixerBackend {
 public:
  FlashBackend() {
    descriptor_.name = "cpu.flash";
    descriptor_.kind = MixerKind::kAttention;
    descriptor_.device_class = DeviceClass::kCpu;
    descriptor_.dtypes = {DType::kF32};
    descriptor_.window_policy = true;  // StreamingLLM sinks + window on full-attention layers
  }
  const BackendDescriptor& descriptor() const override { return descriptor_; }

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

std::unique_ptr<MixerBackend> MakeFlashBackend() { return std::make_unique<FlashBackend>(); }

}  // namespace junction::cpu
